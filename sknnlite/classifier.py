"""NNClassifier: a neural network classifier as a scikit-learn estimator.

The network ends in a ``Dense()`` producing logits; the output
non-linearity lives in the loss (and in ``predict_proba``), never in the
network, so that the loss and its gradient are computed stably from logits:

* binary ``y``: one output, sigmoid cross-entropy (as ``MLPClassifier``);
* multiclass ``y``: one output per class, softmax cross-entropy;
* multilabel ``y`` (an indicator matrix): one output per label, sigmoid
  cross-entropy per label.
"""

from numbers import Integral, Real

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d

from ._base import (
    START_OVER,
    BaseNN,
    check_score_weight,
    has_mini_batch_optimizer,
)
from .losses import SigmoidCrossEntropy, SoftmaxCrossEntropy, log_sigmoid, log_softmax

__all__ = ["NNClassifier"]


class NNClassifier(ClassifierMixin, BaseNN):
    """Neural network classifier built from a list of layers.

    Binary, multiclass and multilabel classification with labels of any
    type (strings, non-contiguous integers, booleans). Probabilities come
    from a sigmoid (binary, multilabel) or softmax (multiclass) of the
    network's logits, and the loss is the matching cross-entropy computed
    from the logits.

    Parameters
    ----------
    layers : list of Layer or None, default=None
        Template of the network, e.g. ``[Dense(64), ReLU(), Dense()]``. It is
        never modified: ``fit`` trains copies, stored in ``layers_``. The
        last layer must give logits: a ``Dense()`` without ``units`` gets one
        unit for binary ``y`` and one per class (or label) otherwise. No
        output activation: the loss applies the sigmoid or softmax. ``None``
        means ``[Dense(100), ReLU(), Dense()]``.
    optimizer : {"adam", "sgd", "lbfgs"} or Optimizer, default="adam"
        Optimizer name or object (``Adam(beta_1=0.8)``, ``SGD(momentum=0.5)``,
        ``LBFGS(max_fun=5000)``); its settings are tunable as
        ``optimizer__<name>``. ``"lbfgs"`` trains on all the data at once and
        has no ``partial_fit``.
    learning_rate : float, default=0.001
        Step size of Adam and SGD (the initial one, with an SGD schedule).
        L-BFGS ignores it: its line search chooses each step.
    alpha : float, default=0.0001
        Strength of the L2 penalty on weights (not biases).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs (passes over the data).
    tol : float, default=1e-4
        Minimum improvement that counts as progress: of the training loss,
        in the units of ``loss_curve_`` (cross-entropy in nats per sample),
        or, with ``early_stopping``, of the validation accuracy. L-BFGS also
        passes it to SciPy as the gradient tolerance ``gtol``, and without
        early stopping stops by SciPy's tests alone.
    n_iter_no_change : int, default=10
        Stop after this many epochs without progress.
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split.
        An int gives the stream of ``numpy.random.RandomState(random_state)``,
        as scikit-learn's MLP uses it: a network of ``Dense`` layers with
        ReLU, Tanh or Identity activations and default initialisation starts
        from the weights ``MLP*(random_state=...)`` draws and visits the rows
        in the same order, so with equal settings the two fit the same model
        up to rounding (the exceptions, such as a multiclass early-stopping
        split, which sknnlite stratifies and MLP does not, are listed in the
        README's "From MLPRegressor to sknnlite").
    warm_start : bool, default=False
        Continue from the previous fit's weights and optimizer state; ``y``
        may only hold labels from ``classes_``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified by class,
        except for multilabel ``y``), stop when its accuracy stops improving
        and restore the weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    verbose : bool, default=False
        Print a table with one row per epoch: training loss, validation
        loss and accuracy (with ``early_stopping``), a ``*`` on a new best
        epoch, and seconds.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, ``{label: weight}``, multiplied into
        ``sample_weight``; the product weighs the loss and, with
        ``early_stopping``, the validation accuracy. ``"balanced"`` uses
        ``n_samples / (n_classes * count)`` (counts weighted by
        ``sample_weight``); for multilabel ``y``
        only ``"balanced"`` is accepted, applied per label and multiplied
        across labels. ``partial_fit`` accepts a dict only.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels; for multilabel ``y``, ``0 .. n_labels - 1``.
    layers_ : list of Layer
        The trained layers.
    network_ : Network
        The trained network (layers plus the flat parameter buffer).
    optimizer_ : Optimizer
        The optimizer with its state.
    loss_function_ : Loss
        ``SigmoidCrossEntropy`` or ``SoftmaxCrossEntropy``.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss per epoch: the mean of the epoch's batch losses plus
        the L2 penalty.
    best_loss_ : float or None
        Lowest training loss (``None`` with ``early_stopping``).
    validation_scores_ : list of float or None
        Validation accuracy per epoch (with ``early_stopping``).
    validation_loss_curve_ : list of float or None
        Cross-entropy on the held-out data per epoch (with
        ``early_stopping``), in the units of ``loss_curve_`` but without the
        L2 penalty.
    best_validation_score_ : float or None
        Best validation accuracy (with ``early_stopping``).
    n_iter_ : int
        Epochs run in total, including earlier warm-started fits.
    t_ : int
        Training samples seen in total.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.
    n_outputs_ : int
        Width of the network's output: 1 for binary ``y``, else the number
        of classes or labels.
    coefs_ : list of ndarray
        Weight matrices of the layers that have one, first layer first, as
        in ``MLPClassifier`` (views into ``network_.coef``).
    intercepts_ : list of ndarray
        Bias vectors of the layers that have one, as in ``MLPClassifier``.

    See Also
    --------
    NNRegressor : The regressor with the same parameters.
    sklearn.neural_network.MLPClassifier : scikit-learn's multi-layer
        perceptron; the user guide maps its parameters to these.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknnlite import NNClassifier, Dense, ReLU
    >>> X, y = load_iris(return_X_y=True)
    >>> names = load_iris().target_names[y]
    >>> model = NNClassifier([Dense(16), ReLU(), Dense()], learning_rate=0.01,
    ...                      tol=1e-3, random_state=0).fit(X, names)
    >>> model.classes_
    array(['setosa', 'versicolor', 'virginica'], dtype='<U10')
    >>> model.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **BaseNN._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        layers=None,
        optimizer="adam",
        learning_rate=0.001,
        alpha=0.0001,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        verbose=False,
        class_weight=None,
    ):
        super().__init__(
            layers=layers,
            optimizer=optimizer,
            learning_rate=learning_rate,
            alpha=alpha,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            verbose=verbose,
        )
        self.class_weight = class_weight

    # -------------------------------------------------------------- fitting
    @available_if(has_mini_batch_optimizer)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one pass over ``X`` and ``y``.

        The first call builds the network and needs ``classes``; later calls
        continue with the current weights and optimizer state (also after
        ``fit``) and accept only labels from ``classes_``. Each call is one
        epoch, with no early stopping or convergence check.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        classes : array-like of shape (n_classes,), default=None
            Every label that any call will see, e.g. ``np.unique(y_all)``;
            required on the first call. For multilabel ``y``, ``range(n_labels)``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : estimator instance
            The updated estimator.

        Raises
        ------
        ValueError
            If ``classes`` is missing on the first call or differs from
            ``classes_`` later, ``y`` has a label not in ``classes_``,
            ``class_weight="balanced"`` (one batch does not show the class
            frequencies: pass a dict), on invalid data or settings, or when a
            new model diverges in its first call. If the call raises, the
            model is left exactly as it was.
        TypeError
            If ``layers`` holds something that is not a layer.

        Warns
        -----
        DivergenceWarning
            The call diverged and was undone.
        UserWarning
            ``batch_size`` is larger than the data (it is clipped), or the
            call was interrupted with Ctrl-C (and undone).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sknnlite import NNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> order = np.random.default_rng(0).permutation(len(y))
        >>> model = NNClassifier(learning_rate=0.01, random_state=0)
        >>> for rows in np.array_split(order, 3):
        ...     model = model.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        >>> model.classes_, model.n_iter_
        (array([0, 1, 2]), 3)
        """
        new = not hasattr(self, "network_")
        self._check_partial_fit_settings(classes, first=new)
        return self._fit(
            X, y, sample_weight, incremental=True, new_model=new, classes=classes
        )

    def _check_partial_fit_settings(self, classes, first):
        """Refuse a first call without ``classes`` and batch-wise balancing."""
        if first and classes is None:
            raise ValueError(
                "classes must be given on the first call to partial_fit: pass "
                "every label any call will see, e.g. classes=np.unique(y_all)."
            )
        if classes is not None and np.ndim(classes) != 1:
            raise ValueError(
                f"classes must be a 1-D list of labels, got an array of shape "
                f"{np.shape(classes)}. Pass e.g. classes=np.unique(y_all)."
            )
        if isinstance(self.class_weight, str):
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: one "
                "batch does not show the class frequencies. Pass a dict instead, "
                "e.g. dict(zip(classes, compute_class_weight('balanced', "
                "classes=classes, y=y_all)))."
            )

    def _check_same_classes(self, classes):
        """Later ``partial_fit`` calls may repeat ``classes``, not change them."""
        if not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"classes={np.asarray(classes)!r} differs from classes_="
                f"{self.classes_!r} of the fitted model. Pass the same classes or "
                f"none. {START_OVER[bool(self.warm_start)]}"
            )

    def _validate_training_data(self, X, y, sample_weight, reset):
        """Check the data as the base does, and that ``y`` holds class labels."""
        X, y, sample_weight = super()._validate_training_data(
            X, y, sample_weight, reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = _object_labels(y)
        check_classification_targets(y)
        if type_of_target(y) == "multiclass-multioutput":
            raise ValueError(
                f"y of shape {y.shape} has columns with more than two classes "
                "(multiclass-multioutput). NNClassifier takes one column of labels "
                "or a 0/1 multilabel matrix; for several multiclass columns use "
                "sklearn.multioutput.MultiOutputClassifier(NNClassifier())."
            )
        return X, y, sample_weight

    def _encode_targets(self, y, sample_weight, reset, classes=None, incremental=False):
        """Return ``y`` as 0/1 columns: one for binary, else one per class/label.

        On ``reset`` the classes come from ``classes`` when given (the first
        ``partial_fit``), else from ``y``.
        """
        if reset and classes is None:
            self._learn_classes(y, source="y")
        elif reset:  # the first partial_fit: y must agree with classes
            self._learn_classes(_partial_fit_labels(y, classes), source="classes")
            self._check_known_labels(y, first_call=True)
        else:
            if classes is not None:
                self._check_same_classes(classes)
            self._check_known_labels(y)
        return self._label_binarizer.transform(y)

    def _learn_classes(self, labels, source):
        """Set ``classes_``, the output width and the loss from ``labels``."""
        binarizer = LabelBinarizer().fit(labels)
        if binarizer.classes_.shape[0] < 2:
            raise ValueError(
                f"{source} has only one class ({binarizer.classes_[0].tolist()!r}); a "
                "classifier needs at least 2 classes."
            )
        self._label_binarizer = binarizer
        self.classes_ = binarizer.classes_
        multiclass = binarizer.y_type_ == "multiclass"
        self.n_outputs_ = 1 if binarizer.y_type_ == "binary" else len(self.classes_)
        self.loss_function_ = (
            SoftmaxCrossEntropy() if multiclass else SigmoidCrossEntropy()
        )

    def _check_known_labels(self, y, first_call=False):
        """Refuse labels, or a kind of target, that the model was not fitted on.

        On the first ``partial_fit`` call the classes come from its
        ``classes`` argument, which must then cover ``y``.
        """
        multilabel = type_of_target(y).startswith("multilabel")
        if multilabel != self._multilabel or (
            multilabel and y.shape[1] != self.classes_.shape[0]
        ):
            fitted = (
                f"a multilabel y with {self.classes_.shape[0]} labels"
                if self._multilabel
                else "a 1-D y of class labels"
            )
            raise ValueError(
                f"y has shape {y.shape} but the model was fitted on {fitted}. "
                f"Pass the same kind of y. {START_OVER[bool(self.warm_start)]}"
            )
        unknown = [] if multilabel else _unknown_labels(y, self.classes_)
        if not unknown:
            return
        if first_call:
            raise ValueError(
                f"y contains labels {unknown} that are not in classes="
                f"{self.classes_.tolist()} given to partial_fit. classes must list "
                "every label any call will see, e.g. classes=np.unique(y_all)."
            )
        raise ValueError(
            f"y contains labels {unknown} that are not in classes_="
            f"{self.classes_.tolist()} of the fitted model: its classes are fixed "
            "when it is built (by fit, or by classes= in the first partial_fit). "
            f"{START_OVER[bool(self.warm_start)]}"
        )

    def _weigh_samples(self, y, targets, sample_weight):
        """``sample_weight`` times the weight of each sample's class."""
        if self.class_weight is None:
            return sample_weight
        _check_class_weight_values(self.class_weight)
        if self._multilabel:
            if not isinstance(self.class_weight, str):
                raise ValueError(
                    "class_weight as a dict is not supported for multilabel y; use "
                    "class_weight='balanced' or sample_weight."
                )
            weights = compute_sample_weight("balanced", y)
        else:
            indices = self._class_indices(targets, threshold=0.5)
            per_class = self._per_class_weights(y, indices, sample_weight)
            weights = per_class[indices]
        if sample_weight is not None:
            weights = weights * sample_weight
        if not weights.sum() > 0:
            raise ValueError(
                f"class_weight={self.class_weight!r} combined with sample_weight "
                "gives every sample zero weight. Give some class a positive weight."
            )
        return weights.astype(targets.dtype, copy=False)

    def _per_class_weights(self, y, indices, sample_weight):
        """Weight of each class, as ``compute_class_weight``.

        With ``"balanced"``, a class of ``classes_`` whose samples all have
        weight 0 (a bootstrap of ``BaggingClassifier`` that drew none of a
        rare class), or that this ``y`` lacks, weighs 0 and the others are
        balanced among themselves, ``W / (k * W_c)`` over the ``k`` classes
        of positive total weight ``W_c`` (``W`` their sum); scikit-learn's
        formula, equal otherwise, divides by that class's zero total.
        """
        if not isinstance(self.class_weight, str):
            return compute_class_weight(
                self.class_weight,
                classes=self.classes_,
                y=y,
                sample_weight=sample_weight,
            )
        if sample_weight is None:
            sample_weight = np.ones(len(indices))
        totals = np.bincount(
            indices, weights=sample_weight, minlength=len(self.classes_)
        )
        present = totals > 0
        per_class = np.zeros(len(self.classes_))
        per_class[present] = totals.sum() / (present.sum() * totals[present])
        return per_class

    def _stratify_labels(self, targets):
        """Class of each sample, so the validation split keeps class shares."""
        if self._multilabel:
            return None
        return self._class_indices(targets, threshold=0.5)

    def _score_output(self, output, targets, sample_weight):
        """Accuracy (subset accuracy for multilabel) of logits against targets."""
        return accuracy_score(
            self._class_indices(targets, threshold=0.5),
            self._class_indices(output, threshold=0.0),
            sample_weight=sample_weight,
        )

    def _class_indices(self, columns, threshold):
        """Index into ``classes_`` per sample (0/1 matrix for multilabel).

        ``columns`` are 0/1 targets (``threshold=0.5``) or logits (``0``).
        """
        if self._multilabel:
            return (columns > threshold).astype(int)
        if columns.shape[1] == 1:
            return (columns[:, 0] > threshold).astype(np.intp)
        return columns.argmax(axis=1)

    @property
    def _multilabel(self):
        """True when fitted on a multilabel indicator matrix."""
        return self._label_binarizer.y_type_.startswith("multilabel")

    # ----------------------------------------------------------- predicting
    def decision_function(self, X):
        """Logits of the network for ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, `n_outputs_`)
            For binary ``y``, one score per sample: positive means
            ``classes_[1]``. Otherwise one logit per class or label.
        """
        logits = self._forward(X)
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def predict(self, X):
        """Predict class labels for ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``; for multilabel ``y`` a 0/1 indicator
            matrix.
        """
        indices = self._class_indices(self._forward(X), threshold=0.0)
        return indices if self._multilabel else self.classes_[indices]

    def predict_proba(self, X):
        """Probability of each class for ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``. Rows sum to 1, except for
            multilabel ``y``, where each column is the probability of its
            label.
        """
        logits = self._forward(X)
        if self._multilabel:
            return expit(logits)
        if logits.shape[1] == 1:
            return np.hstack([expit(-logits), expit(logits)])
        return np.exp(log_softmax(logits))

    def score(self, X, y, sample_weight=None):
        """Return the accuracy (subset accuracy for multilabel ``y``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        score : float
            The (weighted) fraction of correctly predicted samples.

        Raises
        ------
        ValueError
            If ``sample_weight`` has a negative value or the wrong length.
        """
        sample_weight = check_score_weight(sample_weight, X)
        return super().score(X, y, sample_weight=sample_weight)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed from the logits.

        Finite even where a probability rounds to 0 (``log_softmax`` and
        ``-logaddexp(0, -z)``, not ``log(predict_proba(X))``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._forward(X)
        if self._multilabel:
            return log_sigmoid(logits)
        if logits.shape[1] == 1:
            return np.hstack([log_sigmoid(-logits), log_sigmoid(logits)])
        return log_softmax(logits)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _unknown_labels(y, classes):
    """Labels of ``y`` not in ``classes``, as a list (labels of any type)."""
    known = set(classes.tolist())
    return [label for label in unique_labels(y).tolist() if label not in known]


def _object_labels(y):
    """An object ``y`` of numbers or bools as a NumPy array of that type.

    scikit-learn calls a column of Python ints or bools stored as objects
    (as pandas keeps them after some operations) an "unknown" target;
    strings are left as they are. Missing values and a mix of strings,
    numbers and bools are refused with their cause.
    """
    if y.dtype != object:
        return y
    values = y.ravel().tolist()
    if any(v is None or (isinstance(v, float) and v != v) for v in values):
        raise ValueError(
            "y contains missing values (None or NaN). Drop those rows or fill the "
            "labels in before fitting."
        )
    kinds = {_label_kind(v) for v in values}
    if kinds == {"str"} or not kinds:
        return y
    if len(kinds) > 1:
        raise ValueError(
            f"y mixes labels of different types ({', '.join(sorted(kinds))}). "
            "Give labels of one type, e.g. y.astype(str)."
        )
    return np.asarray(values, dtype=bool if kinds == {"bool"} else None).reshape(
        y.shape
    )


def _label_kind(value):
    """``"bool"``, ``"number"``, ``"str"``, or the type's name."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (Integral, Real)):
        return "number"
    return "str" if isinstance(value, str) else type(value).__name__


def _check_class_weight_values(class_weight):
    """Refuse a ``class_weight`` dict whose weights are not finite numbers >= 0."""
    if not isinstance(class_weight, dict):
        return
    bad = {
        label: weight
        for label, weight in class_weight.items()
        if isinstance(weight, bool)
        or not isinstance(weight, Real)
        or not 0 <= weight < np.inf
    }
    if bad:
        raise ValueError(
            f"class_weight has weights that are not finite numbers >= 0: {bad!r}. "
            "Give every class a weight of 0 or more, e.g. {label: 2.0}."
        )


def _partial_fit_labels(y, classes):
    """``classes``, or for multilabel ``y`` (classes = its columns) ``y`` itself."""
    if not type_of_target(y).startswith("multilabel"):
        return np.asarray(classes)
    if not np.array_equal(unique_labels(classes), np.arange(y.shape[1])):
        raise ValueError(
            f"classes={np.asarray(classes)!r} does not match a multilabel y with "
            f"{y.shape[1]} columns; pass classes=np.arange({y.shape[1]})."
        )
    return y
