"""sknnlite on Dask: a grid search on a real local cluster, dask-ml's Incremental."""

import dask.array as da
import joblib
import numpy as np
import pytest
from dask_ml.wrappers import Incremental
from distributed import Client, LocalCluster, get_task_stream
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from sknnlite import Dense, NNRegressor, ReLU

pytestmark = [
    pytest.mark.timeout(120),  # a hung cluster fails the test instead of CI
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


@pytest.fixture
def client():
    """Two single-threaded worker processes on loopback, closed even on failure."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster, timeout=60) as client,
    ):
        yield client


def _search(n_jobs):
    X, y = make_friedman1(n_samples=300, random_state=0)
    search = GridSearchCV(
        NNRegressor(
            [Dense(8), ReLU(), Dense()], learning_rate=0.01, max_iter=20, random_state=0
        ),
        {"layers__0__units": [4, 16], "alpha": [1e-4, 1.0]},
        cv=3,
        n_jobs=n_jobs,
    )
    return search.fit(X, y)


def test_grid_search_on_a_dask_cluster_equals_the_local_search(client):
    workers = set(client.scheduler_info()["workers"])
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        on_cluster = _search(n_jobs=-1)
    with threadpool_limits(limits=1):  # the workers' BLAS is single-threaded too
        local = _search(n_jobs=1)
    ran_on = {task["worker"] for task in tasks.data}
    assert ran_on and ran_on <= workers  # the fits really ran on the cluster
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(
            on_cluster.cv_results_[key], local.cv_results_[key]
        )
    assert on_cluster.best_params_ == local.best_params_
    assert len(set(local.cv_results_["mean_test_score"])) == 4  # candidates differ


def test_dask_ml_incremental_feeds_each_block_to_partial_fit():
    X, y = make_friedman1(n_samples=1000, random_state=0)
    X_dask, y_dask = da.from_array(X, chunks=250), da.from_array(y, chunks=250)
    model = NNRegressor(
        [Dense(32), ReLU(), Dense()],
        learning_rate=0.01,
        max_iter=20,
        tol=0,
        random_state=0,
    )
    incremental = Incremental(model, shuffle_blocks=True, random_state=0)
    for _ in range(20):
        incremental.partial_fit(X_dask, y_dask)
    fitted = incremental.estimator_
    assert (fitted.n_iter_, fitted.t_) == (80, 20_000)  # 4 blocks, 20 passes
    assert isinstance(incremental.predict(X_dask), da.Array)
    in_memory = clone(model).fit(X, y).score(X, y)  # also 20 epochs
    assert fitted.score(X, y) > in_memory - 0.03
