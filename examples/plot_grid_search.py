"""
Tuning width and learning rate with GridSearchCV
================================================

Every layer setting is a parameter of the estimator
(``layers__<index>__<name>``), so scikit-learn's searches tune the network
like any other model. Here a grid over the width of the hidden layer and the
learning rate, scored by 3-fold cross-validation, drawn as a heat map.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknnlite import Dense, NNRegressor, ReLU

X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
widths = [4, 16, 64]
rates = [1e-3, 1e-2, 1e-1]
search = GridSearchCV(
    make_pipeline(
        StandardScaler(),
        NNRegressor([Dense(16), ReLU(), Dense()], max_iter=80, random_state=0),
    ),
    {
        "nnregressor__layers__0__units": widths,
        "nnregressor__learning_rate": rates,
    },
    cv=3,
)
with warnings.catch_warnings():
    # 80 epochs is short for the smallest rate: a ConvergenceWarning says so.
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X, y)
print(search.best_params_, round(search.best_score_, 3))

# %%
# Mean cross-validated R² of each combination:
scores = search.cv_results_["mean_test_score"].reshape(len(widths), len(rates))
fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
image = ax.imshow(scores, cmap="viridis", vmin=max(0.0, scores.min()))
ax.set(
    xticks=np.arange(len(rates)),
    xticklabels=[f"{rate:g}" for rate in rates],
    yticks=np.arange(len(widths)),
    yticklabels=widths,
    xlabel="learning_rate",
    ylabel="units of the hidden layer",
)
for (row, column), value in np.ndenumerate(scores):
    ax.text(column, row, f"{value:.2f}", ha="center", va="center", color="white")
fig.colorbar(image, label="mean CV R²")
