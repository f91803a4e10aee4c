"""Optimizers that update one flat parameter vector in place.

An optimizer never sees layers. The network hands it ``params`` and
``grads``: two aligned 1-D arrays holding every trainable number of the
model. ``initialize(params)`` allocates the optimizer's state by position,
and ``step(params, grads, learning_rate)`` updates ``params`` in place with a
few vectorised operations.

Adam and SGD make those operations block by block (:data:`BLOCK_BYTES`
of each array at a time), so that their temporaries stay in the processor's
cache: on a wide network the parameters, gradients and moments then travel
from memory once per step rather than once per operation. Every element
goes through the same operations as on the whole vector, so the results are
the same bit for bit.
"""

from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from sklearn.utils._param_validation import Interval, StrOptions

from ._config import Configurable

__all__ = ["Optimizer", "SGD", "Adam", "LBFGS", "OPTIMIZERS", "get_optimizer"]

#: Bytes of each array a mini-batch step updates at a time: 32768 float64 or
#: 65536 float32 elements. The five arrays of a block of Adam (parameters,
#: gradients, two moments, a temporary) then stay in a core's L2 cache
#: (1 MiB on the AMD EPYC we measured), where whole-vector passes over a
#: wide network go to main memory a dozen times per step. Measured there on
#: 1.1M parameters: 2**16 to 2**19 bytes were about equal, smaller slower.
BLOCK_BYTES = 2**18


def cache_blocks(array):
    """Slices of ``array`` (1-D) of at most :data:`BLOCK_BYTES` each, in order."""
    step = max(BLOCK_BYTES // array.itemsize, 1)
    return [slice(start, start + step) for start in range(0, array.size, step)]


class Optimizer(Configurable):
    """Base class of mini-batch optimizers.

    Attributes
    ----------
    n_steps_ : int
        Number of updates made since ``initialize``.

    Examples
    --------
    An optimizer updates one flat parameter vector in place; it knows
    nothing of layers:

    >>> import numpy as np
    >>> from sknnlite import SGD
    >>> params = np.array([1.0, -2.0])
    >>> optimizer = SGD(momentum=0.0)
    >>> optimizer.initialize(params)
    >>> optimizer.step(params, np.array([0.5, -0.5]), learning_rate=0.1)
    >>> params, optimizer.n_steps_
    (array([ 0.95, -1.95]), 1)
    """

    #: Whether the optimizer works on the whole data at once (no mini-batches,
    #: no ``partial_fit``), like :class:`LBFGS`.
    full_batch = False

    def initialize(self, params):
        """Allocate state for a flat parameter vector like ``params``."""
        self.n_steps_ = 0
        self._tmp = None  # one block's temporary, made by _scratch

    def epoch_learning_rate(self, base, current, samples_seen):
        """Learning rate for the next epoch (default: keep ``current``).

        Parameters
        ----------
        base : float
            The estimator's ``learning_rate``.
        current : float
            The rate used so far.
        samples_seen : int
            Training samples seen before this epoch (the estimator's ``t_``).
        """
        return current

    def reduce_on_plateau(self, current):
        """A smaller learning rate when progress stalls, or None to stop."""
        return None

    def step(self, params, grads, learning_rate):
        """Update ``params`` in place from ``grads``.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            All trainable parameters, updated in place.
        grads : ndarray of shape (n_params,)
            Gradient of the loss with respect to ``params``.
        learning_rate : float
            Step size.
        """
        raise NotImplementedError

    def step_function(self, params, grads):
        """:meth:`step` on these arrays, as a function of the learning rate.

        The training loop makes it once per epoch and calls it at every
        step; Adam and SGD resolve their blocks and views once. The arrays
        must stay the same (updated in place) while it is used.

        Returns
        -------
        step : callable
            ``step(learning_rate)``.
        """
        step = self.step
        return lambda learning_rate: step(params, grads, learning_rate)

    def get_state(self):
        """Copies of the optimizer's state (its public attributes ending in ``_``).

        Returns
        -------
        state : dict
            Attribute names to copies (arrays) or values; for :meth:`set_state`.
        """
        return {
            name: np.copy(value) if isinstance(value, np.ndarray) else value
            for name, value in vars(self).items()
            if name.endswith("_") and not name.startswith("_")
        }

    def set_state(self, state):
        """Put back a state returned by :meth:`get_state` (arrays in place)."""
        for name, value in state.items():
            current = getattr(self, name, None)
            if isinstance(current, np.ndarray) and current.shape == np.shape(value):
                current[...] = value
            else:
                setattr(
                    self,
                    name,
                    np.copy(value) if isinstance(value, np.ndarray) else value,
                )

    def _scratch(self, params):
        """Temporary vector for one block of ``params`` (rebuilt after unpickling)."""
        size = min(params.size, max(BLOCK_BYTES // params.itemsize, 1))
        tmp = self.__dict__.get("_tmp")
        if tmp is None or tmp.shape != (size,) or tmp.dtype != params.dtype:
            tmp = self._tmp = np.empty(size, dtype=params.dtype)
        return tmp

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_tmp", None)
        return state


class SGD(Optimizer):
    """Stochastic gradient descent with momentum.

    Parameters
    ----------
    momentum : float, default=0.9
        Momentum in ``[0, 1]``; 0 gives plain gradient descent.
    nesterov : bool, default=True
        Use Nesterov's momentum.
    schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        How the learning rate changes, as in scikit-learn's MLP:
        ``"constant"`` keeps it; ``"invscaling"`` uses
        ``learning_rate / (t + 1) ** power_t`` in each epoch, ``t`` being the
        training samples seen so far; ``"adaptive"`` keeps it while training
        improves and divides it by 5 each time the stopping rule would stop,
        stopping when the rule fires with the rate already at most 1e-6.
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.

    Notes
    -----
    With velocity ``v``: ``v = momentum * v - lr * g``; the update is ``v``,
    or ``momentum * v - lr * g`` with Nesterov (as in scikit-learn's MLP).

    Examples
    --------
    MLPRegressor's ``solver="sgd", learning_rate="adaptive"``:

    >>> from sknnlite import SGD, NNRegressor
    >>> NNRegressor(optimizer=SGD(schedule="adaptive"), learning_rate=0.01)
    NNRegressor(learning_rate=0.01, optimizer=SGD(schedule='adaptive'))
    """

    _parameter_constraints = {
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterov": ["boolean"],
        "schedule": [StrOptions({"constant", "invscaling", "adaptive"})],
        "power_t": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, momentum=0.9, nesterov=True, schedule="constant", power_t=0.5):
        self.momentum = momentum
        self.nesterov = nesterov
        self.schedule = schedule
        self.power_t = power_t

    def epoch_learning_rate(self, base, current, samples_seen):
        if self.schedule == "invscaling":
            return base / (samples_seen + 1) ** self.power_t
        return current

    def reduce_on_plateau(self, current):
        # MLP's SGDOptimizer.trigger_stopping: stop once the rate is at most
        # 1e-6, else divide it by 5 (so the last rate tried is below 1e-6).
        if self.schedule == "adaptive" and current > 1e-6:
            return current / 5
        return None

    def initialize(self, params):
        super().initialize(params)
        self.velocity_ = np.zeros_like(params)

    def step(self, params, grads, learning_rate):
        cast = params.dtype.type
        lr, momentum = cast(learning_rate), cast(self.momentum)
        tmp = self._scratch(params)
        for part in cache_blocks(params):
            p, g = params[part], grads[part]
            self._update(p, g, self.velocity_[part], tmp[: p.size], lr, momentum)
        self.n_steps_ += 1

    def step_function(self, params, grads):
        if type(self).step is not SGD.step:
            return super().step_function(params, grads)
        cast = params.dtype.type
        momentum, tmp = cast(self.momentum), self._scratch(params)
        parts = [
            (params[p], grads[p], self.velocity_[p], tmp[: params[p].size])
            for p in cache_blocks(params)
        ]
        update = self._update

        def step(learning_rate):
            lr = cast(learning_rate)
            for block_params, block_grads, velocity, block_tmp in parts:
                update(block_params, block_grads, velocity, block_tmp, lr, momentum)
            self.n_steps_ += 1

        return step

    def _update(self, params, grads, velocity, tmp, lr, momentum):
        """The update of one block; ``grads`` may be overwritten."""
        np.multiply(grads, lr, out=tmp)
        velocity *= momentum
        velocity -= tmp
        if self.nesterov:
            np.multiply(velocity, momentum, out=grads)
            grads -= tmp
            params += grads
        else:
            params += velocity


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015).

    Parameters
    ----------
    beta_1 : float, default=0.9
        Decay of the first-moment estimate, in ``[0, 1)``.
    beta_2 : float, default=0.999
        Decay of the second-moment estimate, in ``[0, 1)``.
    epsilon : float, default=1e-8
        Added to the denominator for stability.

    Notes
    -----
    ``m += (1 - beta_1) * (g - m)``, ``v += (1 - beta_2) * (g**2 - v)`` and
    ``params -= lr_t * m / (sqrt(v) + epsilon)`` with the bias-corrected
    ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``.

    Examples
    --------
    >>> from sknnlite import Adam, NNRegressor
    >>> model = NNRegressor(optimizer=Adam(beta_1=0.8))
    >>> model.set_params(optimizer__beta_2=0.99).optimizer
    Adam(0.8, beta_2=0.99)
    """

    _parameter_constraints = {
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def initialize(self, params):
        super().initialize(params)
        self.m_ = np.zeros_like(params)
        self.v_ = np.zeros_like(params)

    def step(self, params, grads, learning_rate):
        cast = params.dtype.type
        self.n_steps_ += 1
        t = self.n_steps_
        lr_t = learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        factors = (
            cast(1 - self.beta_1),
            cast(1 - self.beta_2),
            cast(self.epsilon),
            cast(lr_t),
        )
        tmp = self._scratch(params)
        for part in cache_blocks(params):
            p, m, v = params[part], self.m_[part], self.v_[part]
            _adam_update(p, grads[part], m, v, tmp[: p.size], *factors)

    def step_function(self, params, grads):
        if type(self).step is not Adam.step:
            return super().step_function(params, grads)
        cast = params.dtype.type
        beta_1, beta_2 = self.beta_1, self.beta_2
        constants = (cast(1 - beta_1), cast(1 - beta_2), cast(self.epsilon))
        tmp = self._scratch(params)
        parts = [
            (params[p], grads[p], self.m_[p], self.v_[p], tmp[: params[p].size])
            for p in cache_blocks(params)
        ]

        def step(learning_rate):
            self.n_steps_ += 1
            t = self.n_steps_
            lr_t = cast(learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t))
            for part in parts:
                _adam_update(*part, *constants, lr_t)

        return step


def _adam_update(
    params, grads, m, v, tmp, one_minus_beta_1, one_minus_beta_2, eps, lr_t
):
    """Adam's update of one block of ``params`` and its moments, in place."""
    np.subtract(grads, m, out=tmp)
    tmp *= one_minus_beta_1
    m += tmp
    np.multiply(grads, grads, out=tmp)
    tmp -= v
    tmp *= one_minus_beta_2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr_t
    params -= tmp


class LBFGS(Optimizer):
    """Limited-memory BFGS on the whole training set (SciPy's L-BFGS-B).

    A quasi-Newton method: each iteration uses the exact gradient over all
    the data, so there are no mini-batches, no learning rate and no
    ``partial_fit``. It often converges fastest on small data sets. One
    iteration counts as one epoch in ``n_iter_`` and ``loss_curve_``.

    Parameters
    ----------
    max_fun : int, default=15000
        Maximum number of loss and gradient evaluations.
    max_corrections : int, default=10
        Number of past updates kept to approximate the curvature.

    Notes
    -----
    The estimator's ``max_iter`` bounds the iterations and its ``tol`` is
    passed as SciPy's ``gtol``: training stops by SciPy's own tests, as in
    ``MLPRegressor``. With early stopping it also stops after more than
    ``n_iter_no_change`` iterations that improve the validation score by less
    than ``tol``.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sknnlite import LBFGS, Dense, NNRegressor, Tanh
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> model = NNRegressor([Dense(16), Tanh(), Dense()], optimizer=LBFGS(max_fun=5000),
    ...                     tol=1e-3, max_iter=1000, random_state=0).fit(X, y)
    >>> model.n_iter_ == len(model.loss_curve_), hasattr(model, "partial_fit")
    (True, False)
    """

    _parameter_constraints = {
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "max_corrections": [Interval(Integral, 1, None, closed="left")],
    }

    full_batch = True

    def __init__(self, max_fun=15000, max_corrections=10):
        self.max_fun = max_fun
        self.max_corrections = max_corrections

    def step(self, params, grads, learning_rate):
        raise TypeError("LBFGS works on the whole data set; use minimize().")

    def minimize(self, objective, params, max_iter, tol, callback):
        """Minimise ``objective`` from ``params``; returns SciPy's result.

        Parameters
        ----------
        objective : callable
            ``objective(params) -> (loss, gradient)`` on 1-D float64 arrays.
        params : ndarray of shape (n_params,)
            Starting point.
        max_iter : int
            Maximum number of iterations.
        tol : float
            Gradient tolerance (SciPy's ``gtol``).
        callback : callable
            Called after every iteration with SciPy's intermediate result;
            it may raise ``StopIteration`` to stop.

        Returns
        -------
        result : scipy.optimize.OptimizeResult
        """
        result = minimize(
            objective,
            np.asarray(params, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={
                "maxiter": max_iter,
                "maxfun": self.max_fun,
                "maxcor": self.max_corrections,
                "gtol": tol,
            },
        )
        self.n_steps_ += int(result.nit)
        return result


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "lbfgs": LBFGS}


def get_optimizer(optimizer):
    """Return a fresh optimizer for a name in :data:`OPTIMIZERS` or a copy.

    Examples
    --------
    >>> from sknnlite import Adam
    >>> from sknnlite.optimizers import get_optimizer
    >>> get_optimizer("sgd")
    SGD()
    >>> template = Adam(beta_1=0.8)
    >>> copy = get_optimizer(template)
    >>> copy, copy is template
    (Adam(0.8), False)
    """
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer]()
    if isinstance(optimizer, Optimizer):
        return type(optimizer)(**optimizer.get_params(deep=False))
    raise ValueError(
        f"optimizer={optimizer!r} is not a known optimizer. Use one of "
        f"{sorted(OPTIMIZERS)} or an Optimizer instance such as Adam(beta_1=0.8)."
    )
