"""
Loss curves and early stopping
==============================

Train the same network on the diabetes data with and without early stopping,
and draw each fit's curves with :class:`~sknnlite.LossCurveDisplay`: the
training loss, and with early stopping the validation loss and the
validation score (right axis). The dashed line marks the best epoch, whose
weights an early-stopping fit keeps.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknnlite import Dense, LossCurveDisplay, NNRegressor, ReLU

X, y = load_diabetes(return_X_y=True)

fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for ax, early_stopping in zip(axes, [False, True], strict=True):
    model = make_pipeline(
        StandardScaler(),
        NNRegressor(
            [Dense(32), ReLU(), Dense()],
            early_stopping=early_stopping,
            n_iter_no_change=20,
            max_iter=300,
            random_state=0,
        ),
    )
    with warnings.catch_warnings():
        # Without early stopping the training loss is still falling after 300
        # epochs (the network memorises the 442 rows): a ConvergenceWarning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    display = LossCurveDisplay.from_estimator(model, ax=ax)
    ax.set_title(f"early_stopping={early_stopping}: {model[-1].n_iter_} epochs")
    print(f"early_stopping={early_stopping}: best epoch {display.best_epoch}")

# %%
# Without early stopping the training loss keeps falling for all 300 epochs.
# With it, the validation loss levels off long before the training loss does:
# the network starts to fit the noise of its training rows. Training stops
# once the validation score has not improved for ``n_iter_no_change`` epochs,
# and the model keeps the weights of the best epoch. The losses are in
# standardised units: the regressor trains on a standardised target.
