"""
Choosing the learning rate
==========================

The learning rate is the setting that matters most. Here the same 32-32 ReLU
network trains on ``make_friedman1`` for 40 epochs at four learning rates.
The training loss per epoch shows how little a small rate learns in the time
given; on this data the two largest rates learn fastest. The test R² is in
the legend.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknnlite import Dense, NNRegressor, ReLU

X, y = make_friedman1(n_samples=1000, noise=0.5, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for rate in [1e-4, 1e-3, 1e-2, 1e-1]:
    model = make_pipeline(
        StandardScaler(),
        NNRegressor(
            [Dense(32), ReLU(), Dense(32), ReLU(), Dense()],
            learning_rate=rate,
            max_iter=40,
            random_state=0,
        ),
    )
    with warnings.catch_warnings():
        # 40 epochs is short on purpose: a ConvergenceWarning says so.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    score = model.score(X_test, y_test)
    ax.plot(model[-1].loss_curve_, label=f"learning_rate={rate:g}: test R² {score:.3f}")
ax.set(xlabel="epoch", ylabel="training loss (standardised)", yscale="log")
ax.legend()

# %%
# The best rate depends on the data: on the small, noisy diabetes data 1e-4
# scored best in :doc:`/user_guide/practical_tips`, while 1e-2 overfitted
# there. A rate too large for the data makes the loss oscillate or grow, and
# the fit ends with a warning that names a smaller rate to try. Search the
# rate on a log scale, as the grid-search example does.
