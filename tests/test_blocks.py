"""Container layers: Sequential and Residual, alone, nested and in estimators."""

import copy
import pickle
import re
import warnings
from html import escape

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils import estimator_html_repr

from sknnlite import (
    BatchNorm,
    Dense,
    Dropout,
    Identity,
    Network,
    NNClassifier,
    NNRegressor,
    ReLU,
    Residual,
    Sequential,
    SquaredError,
    Tanh,
)
from sknnlite.layers import Layer, build_layer
from sknnlite.testing import (
    check_estimator_gradients,
    check_layer,
    check_network_gradients,
)

BLOCKS = [
    Sequential([Dense(5), "relu", Dense(3)]),
    Residual([Dense(6), "tanh", Dense()]),
    Residual([Dense(6), Tanh(), Dense(3)]),  # widths differ: a projection
    Residual([Dense(6), BatchNorm(), "relu", Dropout(0.3), Dense()], norm=BatchNorm()),
    Sequential(
        [
            Residual([Dense(5), "relu", Dense()]),
            Residual([Sequential([Dense(4), "gelu"]), Dense(2)], norm=BatchNorm()),
        ]
    ),
]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2]


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def _built(layer, n_inputs=4, seed=0):
    build_layer(layer, n_inputs, np.random.default_rng(seed), np.float64)
    return layer


@pytest.mark.parametrize("block", BLOCKS, ids=repr)
def test_blocks_pass_the_layer_contract_check(block):
    check_layer(block)  # gradients, purity, threads, pickling, cloning


def test_residual_adds_its_input_to_the_members_output():
    block = _built(Residual([Dense(6), "tanh", Dense()]))
    x = np.random.default_rng(1).normal(size=(5, 4))
    dense, tanh, last = block.layers_
    expected = x + last.forward(tanh.forward(dense.forward(x)))
    np.testing.assert_allclose(block.forward(x), expected, rtol=1e-14)
    assert block.projection_ is None and block.widths_["2"] == 4


def test_residual_projects_its_input_when_the_widths_differ():
    block = _built(Residual([Dense(6), "tanh", Dense(3)]))
    x = np.random.default_rng(1).normal(size=(5, 4))
    projection = block.params["projection.W"]
    assert projection.shape == (4, 3) and "projection.b" not in block.params
    members = block.layers_
    f_x = members[2].forward(members[1].forward(members[0].forward(x)))
    np.testing.assert_allclose(block.forward(x), x @ projection + f_x, rtol=1e-14)


def test_the_norm_applies_to_the_branch_only():
    block = _built(Residual([Dense()], norm=BatchNorm()))
    block.params["norm.beta"][...] = 5.0  # a shift that the skip path must not see
    x = np.random.default_rng(1).normal(size=(5, 4))
    normalised = block.norm_.forward(x)
    expected = x + block.layers_[0].forward(normalised)
    np.testing.assert_allclose(block.forward(x), expected, rtol=1e-14)


def test_container_params_are_the_members_arrays_and_the_network_rebinds_them():
    net = Network([Dense(4), Residual([Dense(6), "relu", Dense(5)]), Dense()])
    net.build(3, 1, np.random.default_rng(0), np.float64)
    block = net.layers[1]
    assert list(block.params) == ["0.W", "0.b", "2.W", "2.b", "projection.W"]
    assert block.decayed == ["0.W", "2.W", "projection.W"]
    for key, member in (("0.W", 0), ("2.b", 2)):
        array = block.layers_[member].params[key.split(".")[1]]
        assert block.params[key] is array and np.shares_memory(array, net.coef)
    # Weights, projection included, come first in coef: alpha penalises them.
    assert net.n_decay == 3 * 4 + 4 * 6 + 6 * 5 + 4 * 5 + 5 * 1
    net.coef[: net.n_decay] = 0.0
    assert not block.params["projection.W"].any()


def test_network_gradients_through_nested_blocks_with_penalty():
    layers = [
        Dense(4),
        Residual(
            [Dense(6), BatchNorm(), "tanh", Dropout(0.2), Dense()], norm=BatchNorm()
        ),
        Sequential([Residual([Dense(5), "gelu", Dense(3)])]),
        Dense(),
    ]
    net = Network(layers).build(3, 2, np.random.default_rng(0), np.float64)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    weight = rng.uniform(0.5, 2, 7)
    report = check_network_gradients(net, SquaredError(), X, y, weight, alpha=0.3)
    report.raise_if_wrong()
    assert "layers[1].params['norm.gamma']" in report.errors
    assert "layers[2].params['0.projection.W']" in report.errors


def test_a_residual_first_layer_skips_its_input_gradient(data):
    X, y = data
    model = NNRegressor([Residual([Dense(8), "relu", Dense()]), Dense()])
    check_estimator_gradients(model, X[:6], y[:6]).raise_if_wrong()
    net = Network([Residual([Dense(8), "relu", Dense(3)]), Dense()])
    net.build(4, 1, np.random.default_rng(0), np.float64)
    block = net.layers[0]
    assert block.layers_[0].skip_input_grad and block.projection_.skip_input_grad
    net.forward(X[:5], training=True)
    assert block.backward(np.ones((5, 3))) is None


def test_nested_settings_are_tunable_through_the_estimator():
    inner = Dense(16)
    model = NNRegressor([Dense(8), Residual([inner, "relu", Dense()]), Dense()])
    params = model.get_params()
    assert params["layers__1__layers__0__units"] == 16
    assert params["layers__1__layers__1"] == "relu"
    model.set_params(layers__1__layers__0__units=32, layers__1__layers__1="tanh")
    assert model.layers[1].layers[0].units == 32
    assert model.layers[1].layers[1] == "tanh"
    assert inner.units == 16  # the user's layer is not modified


def test_a_nested_setting_on_a_norm_and_deeper_containers():
    model = NNRegressor(
        [Sequential([Residual([Dense(4), "relu", Dense()], norm=BatchNorm())]), Dense()]
    )
    model.set_params(layers__0__layers__0__norm__momentum=0.3)
    assert model.layers[0].layers[0].norm.momentum == 0.3
    assert "layers__0__layers__0__layers__0__units" in model.get_params()


def test_an_out_of_range_member_index_is_refused():
    with pytest.raises(ValueError, match=r"there are 3 layers, so use layers__0 to"):
        Residual([Dense(4), "relu", Dense()]).set_params(layers__3__units=2)


def test_grid_search_over_nested_settings(data):
    X, y = data
    model = NNRegressor(
        [Dense(8), Residual([Dense(8), "relu", Dense()]), Dense()],
        max_iter=3,
        random_state=0,
    )
    grid = {
        "layers__1__layers__0__units": [4, 8],
        "layers__1__layers__1": ["tanh", ReLU()],
    }
    search = _fit(GridSearchCV(model, grid, cv=2), X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_.layers_[1]
    assert best.layers_[0].units == search.best_params_["layers__1__layers__0__units"]


def test_clone_pickle_and_deepcopy_of_a_fitted_residual_model(data):
    X, y = data
    model = NNRegressor(
        [
            Dense(8),
            Residual([Dense(8), BatchNorm(), "relu", Dropout(0.1), Dense()]),
            Dense(),
        ],
        max_iter=3,
        random_state=0,
    )
    _fit(model, X, y)
    expected = model.predict(X)
    for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        np.testing.assert_array_equal(twin.predict(X), expected)
        block = twin.layers_[1]
        assert np.shares_memory(block.params["0.W"], twin.network_.coef)
        assert block.params["0.W"] is block.layers_[0].params["W"]
    assert not hasattr(clone(model).layers[1], "layers_")
    # Training the copy leaves the original alone.
    twin = copy.deepcopy(model)
    twin.partial_fit(X, y)
    np.testing.assert_array_equal(model.predict(X), expected)


def test_snapshot_and_restore_include_batchnorm_inside_a_block():
    net = Network([Residual([Dense(4), BatchNorm(), "relu", Dense()]), Dense()])
    net.build(3, 1, np.random.default_rng(0), np.float64)
    norm = net.layers[0].layers_[1]
    saved = net.snapshot()
    assert set(saved[1][0]) == {"1.running_mean_", "1.running_var_"}
    before = norm.running_mean_.copy()
    net.forward(np.random.default_rng(1).normal(3.0, size=(6, 3)), training=True)
    assert not np.array_equal(norm.running_mean_, before)
    net.restore(saved)
    np.testing.assert_array_equal(norm.running_mean_, before)


def test_early_stopping_restores_the_block_statistics_of_the_best_epoch(
    data, monkeypatch
):
    X, y = data
    model = NNRegressor(
        [Dense(8), Residual([Dense(8), BatchNorm(), "relu", Dense()]), Dense()],
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=40,
        learning_rate=0.05,
        random_state=0,
    )
    seen = {}
    score_output = NNRegressor._score_output

    def remember(self, *args, **kwargs):
        score = score_output(self, *args, **kwargs)
        norm = self.network_.layers[1].layers_[1]
        seen[score] = (self.network_.coef.copy(), norm.running_mean_.copy())
        return score

    monkeypatch.setattr(NNRegressor, "_score_output", remember)
    _fit(model, X, y)
    best_coef, best_mean = seen[model.best_validation_score_]
    assert model.validation_scores_[-1] < model.best_validation_score_
    np.testing.assert_array_equal(model.network_.coef, best_coef)
    norm = model.layers_[1].layers_[1]
    np.testing.assert_array_equal(norm.running_mean_, best_mean)


def test_chunked_predict_reuses_nested_workspaces_correctly():
    net = Network(
        [Dense(8), Residual([Dense(6), "relu", Dense()], norm=BatchNorm()), Dense()]
    )
    net.build(3, 2, np.random.default_rng(0), np.float64)
    X = np.random.default_rng(1).normal(size=(1000, 3))
    one_pass = np.vstack([net.forward(X[i : i + 1]) for i in range(0, 1000, 97)])
    chunked = net.predict(X, chunk_rows=97)[::97]
    np.testing.assert_allclose(chunked, one_pass, rtol=1e-13)


def test_sparse_input_into_a_residual_first_layer(data):
    X, y = data
    X = np.where(np.abs(X) > 1, X, 0.0)
    model = NNRegressor(
        [Residual([Dense(8), "relu", Dense()]), Dense()], max_iter=2, random_state=0
    )
    dense = _fit(clone(model), X, y)
    sparse_model = _fit(clone(model), sparse.csr_matrix(X), y)
    np.testing.assert_allclose(
        sparse_model.predict(sparse.csr_matrix(X)), dense.predict(X), rtol=1e-10
    )


def test_float32_blocks_keep_float32(data):
    X, y = data
    model = NNRegressor(
        [Dense(8), Residual([Dense(8), "relu", Dense(4)]), Dense()], max_iter=2
    )
    _fit(model, X.astype(np.float32), y)
    assert model.predict(X.astype(np.float32)).dtype == np.float32
    assert model.layers_[1].params["projection.W"].dtype == np.float32


def test_the_summary_shows_members_under_their_block(data):
    X, y = data
    model = NNRegressor(
        [Dense(8), Residual([Dense(6), "relu", Dense(4)], norm=BatchNorm()), Dense()],
        max_iter=1,
    )
    _fit(model, X, y)
    summary = model.summary()
    indices = [row[0] for row in summary.rows]
    assert indices == [0, 1, "1.norm", "1.0", "1.1", "1.2", "1.projection", 2]
    assert summary.n_params == model.network_.coef.size
    block_row = summary.rows[1]
    assert block_row[1] == "Residual(norm=BatchNorm())" and block_row[2] == 4
    assert block_row[3] == sum(row[3] for row in summary.rows[2:7])
    lines = str(summary).splitlines()
    block_line = next(line for line in lines if line.split()[0] == "1")
    member_line = next(line for line in lines if line.split()[0] == "1.0")
    # The member's name starts two columns right of its block's.
    assert member_line.index("Dense(6") == block_line.index("Residual") + 2


def test_a_classifier_with_residual_blocks_learns(data):
    X, y = data
    model = NNClassifier(
        [Dense(16), Residual([Dense(16), "relu", Dense()]), "relu", Dense()],
        max_iter=60,
        learning_rate=0.01,
        random_state=0,
    )
    _fit(model, X, y > 0)
    assert model.score(X, y > 0) > 0.9


@pytest.mark.parametrize(
    "block, message",
    [
        (Sequential([]), r"Sequential.layers is empty"),
        (Residual([Dense(4), "rleu"]), r"\(Residual\).layers\[1\] is 'rleu'"),
        (Residual([Dense(0)]), r"'units' parameter of layers\[1\] \(Residual\)"),
        (Residual([Dense(4)], norm=BatchNorm(momentum=2)), r"'momentum'.*\.norm"),
    ],
)
def test_bad_blocks_are_refused_naming_the_member(data, block, message):
    X, y = data
    with pytest.raises((ValueError, TypeError), match=message):
        NNRegressor([Dense(4), block, Dense()]).fit(X, y)


def test_member_errors_name_the_member_path(data):
    X, y = data
    with pytest.raises(ValueError, match=r"layers\[1\] \(Residual\).layers\[0\]"):
        NNRegressor([Dense(4), Residual([Dense(0)]), Dense()]).fit(X, y)


def test_a_block_with_batchnorm_inside_needs_two_rows_per_batch(data):
    X, y = data
    block = Residual([Dense(4), "relu", Dense()], norm=BatchNorm())
    assert block.min_batch_rows == 2  # from the template, before build
    assert Sequential([Sequential([Dense(4), BatchNorm()])]).min_batch_rows == 2
    assert Residual([Dense(4), "relu", Dense()]).min_batch_rows == 1
    model = NNRegressor([Dense(4), block, Dense()], batch_size=1)
    with pytest.raises(
        ValueError, match=r"batch_size=1 is too small for layers\[1\] \(Residual\)"
    ):
        model.fit(X, y)
    # A one-row remainder joins the batch before it, as for a bare BatchNorm.
    folded = NNRegressor([Dense(4), block, Dense()], batch_size=59, max_iter=2)
    whole = NNRegressor([Dense(4), block, Dense()], batch_size=60, max_iter=2)
    _fit(folded.set_params(random_state=0, shuffle=False), X[:60], y[:60])
    _fit(whole.set_params(random_state=0, shuffle=False), X[:60], y[:60])
    np.testing.assert_array_equal(folded.predict(X), whole.predict(X))


def test_html_repr_shows_each_container_member_in_order():
    residual = Residual([Dense(8), "relu", Dense()], norm=BatchNorm())
    html = estimator_html_repr(NNRegressor([Sequential([residual, "tanh"]), Dense()]))
    labels = re.findall(r"<div><div>([^<]*)</div></div>", html)
    assert labels[-8:] == [
        *("0: Sequential", "0: Residual", "BatchNorm", "Dense", "relu", "Dense"),
        *("tanh", "Dense"),
    ]
    # A nested container is labelled by its position; its details are its repr.
    assert f"<pre>{escape(repr(residual))}</pre>" in html


def test_float32_residual_whose_branch_returns_its_input_keeps_float32():
    # The branch's output is then the block's input, so the sum goes to a
    # buffer of the call, which must take the dtype of the data.
    net = Network([Dense(3), Residual([Identity()])])
    net.build(2, 3, np.random.default_rng(0), np.float32)
    x = np.ones((5, 2), dtype=np.float32)
    hidden = net.layers[0].forward(x)
    out = net.predict(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 2 * hidden, rtol=1e-6)


class _NoWidth(Layer):
    def build(self, n_inputs, rng, dtype):
        return None


def test_a_norm_that_returns_no_width_is_named_as_the_norm():
    block = Residual([Dense()], norm=_NoWidth())
    with pytest.raises(TypeError, match=r"^Residual\.norm\.build returned None"):
        block.build(3, np.random.default_rng(0), np.dtype("float64"))


def test_dropout_inside_a_residual_gets_the_row_keys():
    # Equal input rows draw the same mask, as Dropout does outside a block,
    # so that a repeated row trains like a row of weight 2.
    block = Residual([Dense(6), Dropout(0.5), Dense()])
    net = Network([Dense(4), block]).build(3, 4, np.random.default_rng(0), np.float64)
    x = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    out = net.forward(x, training=True)
    np.testing.assert_array_equal(out[0], out[1])
