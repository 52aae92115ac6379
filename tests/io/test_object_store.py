"""Data on an object store: masks on a real S3 API (moto's standalone server on 127.0.0.1, reached
through s3fs) and in fsspec's memory store, evaluated into a results folder on the store, with
local processes and with a Dask LocalCluster; read back, the run equals the local run."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from segscope.exceptions import SegscopeError
from segscope.io.run_folder import load_results
from segscope.run import evaluate_folders

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from segscope.synth import write_dataset

    return write_dataset(tmp_path_factory.mktemp("data"), num_images=12, height=48, width=64, seed=21)


@pytest.fixture(scope="module")
def local_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "run"
    evaluate_folders(data["pred"], data["gt"], data["classes"], out=out, jobs=1)
    return out


class _Requests:
    """WSGI middleware that records ``(method, path, query)`` of every request the server gets."""

    def __init__(self, app):
        self.app, self.seen = app, []

    def __call__(self, environ, start_response):
        self.seen.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")))
        return self.app(environ, start_response)

    def count(self, since: int = 0) -> dict[str, int]:
        """The S3 operations since request ``since``: object GETs and HEADs by key prefix,
        listings, writes."""
        out: dict[str, int] = {}
        for method, path, query in self.seen[since:]:
            parts = path.strip("/").split("/")
            if method == "GET" and ("list-type" in query or len(parts) == 1):
                op = "LIST"
            elif method in ("GET", "HEAD"):
                op = f"{method} {parts[1] if len(parts) > 2 else ''}".strip()
            elif method == "POST" and "delete" in query:
                op = "DELETE"
            else:
                op = method
            out[op] = out.get(op, 0) + 1
        return out


_SERVER: dict = {}


@pytest.fixture
def s3_requests(s3) -> _Requests:
    return _SERVER["requests"]


@pytest.fixture(scope="module")
def s3(data):
    """A moto S3 server on a free 127.0.0.1 port, the data uploaded to s3://masks/; the storage
    options that reach it. :func:`s3_requests` gives the record of the requests the server gets."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    import s3fs
    from werkzeug.serving import make_server

    port = _free_port()
    requests = _Requests(server_mod.DomainDispatcherApplication(server_mod.create_backend_app))

    class Server(server_mod.ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(self._ip_address, self._port, requests, True)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Server(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}",
                                                                        "region_name": "us-east-1"}}
    try:
        import boto3

        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket="masks")
        fs = s3fs.S3FileSystem(**options)
        for role in ("pred", "gt"):
            for f in sorted(Path(data[role]).iterdir()):
                fs.pipe_file(f"masks/{role}/{f.name}", f.read_bytes())
        fs.pipe_file("masks/classes.yaml", Path(data["classes"]).read_bytes())
        _SERVER["requests"] = requests
        yield fs, options
    finally:
        server.stop()


def _same_run(metrics: dict, local_out: Path) -> None:
    local = json.loads((local_out / "metrics.json").read_text())
    for key in ("pred_dir", "gt_dir"):
        metrics["config"].pop(key)
        local["config"].pop(key)
    metrics["config"].pop("class_spec")
    local["config"].pop("class_spec")
    assert json.dumps(metrics, sort_keys=True) == json.dumps(local, sort_keys=True)


def _same_files(fs, root: str, local_out: Path) -> None:
    """Every file of the run on the store equals the local run's, but metrics.json (it records
    the folders) and the manifest."""
    remote = sorted(n[len(root) + 1:] for n in fs.find(root))
    local = sorted(p.relative_to(local_out).as_posix() for p in local_out.rglob("*") if p.is_file())
    assert remote == local
    for name in local:
        if name not in ("metrics.json", "manifest.json", "class_spec.json"):
            assert fs.cat_file(f"{root}/{name}") == (local_out / name).read_bytes(), name


@pytest.mark.parametrize("runner", ["processes", "dask"])
def test_s3_in_s3_out_equals_the_local_run(s3, local_run, runner, monkeypatch):
    fs, options = s3
    root = f"masks/out-{runner}"
    kwargs = {"jobs": 2}
    if runner == "dask":
        pytest.importorskip("dask.distributed")
        monkeypatch.setenv("PYTHONPATH", f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        kwargs["scheduler"] = "dask"
    run = evaluate_folders("s3://masks/pred", "s3://masks/gt", "s3://masks/classes.yaml", out=f"s3://{root}",
                           storage_options=options, **kwargs)
    assert run.out == f"s3://{root}"
    fs.invalidate_cache()
    _same_files(fs, root, local_run)
    from segscope.io.files import set_storage_options

    set_storage_options(options)
    try:
        back = load_results(f"s3://{root}")
    finally:
        set_storage_options(None)
    _same_run(back.metrics, local_run)
    assert len(back.rows) == 12


@pytest.mark.parametrize("runner", ["processes", "dask"])
def test_requests_per_image_on_s3(s3, s3_requests, data, runner, monkeypatch):
    """Each mask is one GET, after one HEAD (s3fs asks an object's size before a whole-object
    read) unless ``max_concurrency`` is 1; listing and writing the run cost a fixed number of
    requests, whatever the number of images."""
    fs, options = s3
    kwargs = {"jobs": 2}
    if runner == "dask":
        pytest.importorskip("dask.distributed")
        monkeypatch.setenv("PYTHONPATH", f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        kwargs["scheduler"] = "dask"
    images = len(list(Path(data["pred"]).iterdir()))
    for extra, heads in (({}, images), ({"max_concurrency": 1}, 0)):
        since = len(s3_requests.seen)
        evaluate_folders("s3://masks/pred", "s3://masks/gt", data["classes"], out=f"s3://masks/count-{runner}",
                         storage_options={**options, **extra}, **kwargs)
        seen = s3_requests.count(since)
        masks = ("GET pred", "GET gt", "HEAD pred", "HEAD gt")
        assert seen.get("GET pred") == images and seen.get("GET gt") == images, seen
        assert seen.get("HEAD pred", 0) == heads and seen.get("HEAD gt", 0) == heads, seen
        assert seen["LIST"] <= 8, seen
        others = sum(n for op, n in seen.items() if op.startswith(("GET", "HEAD")) and op not in masks)
        assert others <= 2, seen  # the bucket, and the previous run's manifest
        print(f"\n{runner} {extra}: {images} images, requests {dict(sorted(seen.items()))}")


def test_a_second_run_replaces_the_first_and_an_incomplete_run_is_refused(s3, data):
    fs, options = s3
    from segscope.io.files import set_storage_options

    out = "s3://masks/again"
    evaluate_folders("s3://masks/pred", "s3://masks/gt", data["classes"], out=out, jobs=1, storage_options=options,
                     analyses=())
    evaluate_folders("s3://masks/pred", "s3://masks/gt", data["classes"], out=out, jobs=1, storage_options=options)
    fs.invalidate_cache()
    files = json.loads(fs.cat_file("masks/again/manifest.json"))["files"]
    assert sorted(n[len("masks/again/"):] for n in fs.find("masks/again")) == sorted([*files, "manifest.json"])
    fs.rm_file(f"masks/again/{files[0]}")
    set_storage_options(options)
    try:
        with pytest.raises(SegscopeError, match="no complete segscope run"):
            load_results(out)
    finally:
        set_storage_options(None)


def test_memory_store_in_and_out_equals_the_local_run(data, local_run):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    for role in ("pred", "gt"):
        for f in sorted(Path(data[role]).iterdir()):
            fs.pipe_file(f"/segscope-test/{role}/{f.name}", f.read_bytes())
    try:
        run = evaluate_folders("memory://segscope-test/pred", "memory://segscope-test/gt", data["classes"],
                               out="memory://segscope-test/out", jobs=2)
        assert run.metrics["config"]["pred_dir"] == "memory://segscope-test/pred"
        _same_files(fs, "/segscope-test/out", local_run)
        _same_run(load_results("memory://segscope-test/out").metrics, local_run)
    finally:
        fs.rm("/segscope-test", recursive=True)


def test_a_missing_url_folder_is_one_line(tmp_path):
    with pytest.raises(SegscopeError, match=r"^memory://nowhere/pred: no such folder$"):
        evaluate_folders("memory://nowhere/pred", "memory://nowhere/gt", 3)


def test_file_urls_are_local_paths(data, local_run, tmp_path):
    out = tmp_path / "run"
    evaluate_folders(f"file://{data['pred']}", f"file://{data['gt']}", data["classes"], out=f"file://{out}", jobs=1)
    assert (out / "per_image.csv").read_bytes() == (local_run / "per_image.csv").read_bytes()


def test_the_command_line_takes_urls_and_storage_options(s3, local_run, capsys):
    from segscope.cli import main
    from segscope.io.files import set_storage_options

    fs, options = s3
    try:
        code = main(["evaluate", "s3://masks/pred", "s3://masks/gt", "--classes", "s3://masks/classes.yaml",
                     "--out", "s3://masks/cli", "--storage-options", json.dumps(options), "--jobs", "1", "--quiet"])
    finally:
        set_storage_options(None)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "wrote s3://masks/cli/metrics.json" in err
    fs.invalidate_cache()
    _same_files(fs, "masks/cli", local_run)
    assert main(["evaluate", "s3://masks/pred", "s3://masks/gt", "-n", "3", "--storage-options", "[1]"]) == 1
    assert "--storage-options takes a JSON object" in capsys.readouterr().err
