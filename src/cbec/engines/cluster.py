"""A standalone Spark cluster on this machine (a master and its workers, from the pyspark package),
on loopback: for the tests, the benchmark and trying `--engine spark` without a cluster.

A production cluster is started by its operators (docs/scale-out.md); this only runs the same
master and worker classes as `spark-class` does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ClusterError(Exception):
    """The cluster could not be started; the message says what to check."""


def spark_home() -> Path:
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home())


def java_available() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClusterError(f"the Spark process ended early: see {log}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
            return
        time.sleep(0.5)
    raise ClusterError(f"Spark did not listen on {LOOPBACK}:{port} in {seconds:.0f} s: see {log}")


def _worker_registered(web_port: int) -> bool:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{web_port}/json/", timeout=5) as response:
            state = json.loads(response.read())
    except OSError:  # the web UI starts a moment after the master's port
        return False
    return bool(state.get("aliveworkers", 0))


@contextlib.contextmanager
def standalone_cluster(
    workers: int = 1,
    cores: int = 2,
    memory: str = "2g",
    start_seconds: float = 120,
    keep_logs: bool = False,
) -> Iterator[str]:
    """Starts a master and `workers` workers on loopback; yields the master URL; stops them.
    With `keep_logs`, their folder (logs, each executor's stderr) is left for reading."""
    if not java_available():
        raise ClusterError("Java is not installed: Spark needs Java 17 (openjdk-17-jre-headless)")
    spark_class = spark_home() / "bin" / "spark-class"
    folder = Path(tempfile.mkdtemp(prefix="cbec-spark-"))
    env = {**os.environ, "SPARK_LOCAL_IP": LOOPBACK, "SPARK_LOG_DIR": str(folder)}
    port, web_port = _free_port(), _free_port()
    url = f"spark://{LOOPBACK}:{port}"
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        log = folder / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                [str(spark_class), *args], stdout=handle, stderr=subprocess.STDOUT, env=env
            )
        processes.append(process)
        return process

    try:
        master = start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--webui-port",
            str(web_port),
        )
        _wait_for_port(port, master, folder / "master.log", start_seconds)
        for index in range(workers):
            start(
                f"worker{index}",
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                LOOPBACK,
                "--cores",
                str(cores),
                "--memory",
                memory,
                "--webui-port",
                str(_free_port()),
                "--work-dir",
                str(folder / f"work{index}"),
                url,
            )
        deadline = time.monotonic() + start_seconds
        while not _worker_registered(web_port):
            if time.monotonic() > deadline:
                raise ClusterError(f"no Spark worker registered with {url}: see {folder}")
            time.sleep(0.5)
        yield url
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if not keep_logs:
            shutil.rmtree(folder, ignore_errors=True)
