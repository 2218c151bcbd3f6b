"""``sparkjobs doctor``: can this cluster's executors run the project's jobs? One tiny job finds out.

The job runs :data:`PROBE_SOURCE` in a few tasks (twice the cluster's default parallelism, so that
every executor takes some); each task imports every job module and reports its Python (version and
executable), its pyspark and the versions of the project's distributions. The driver runs the same
probe in-process; :func:`compare` turns every difference into one problem that says what to fix:

* the executors' Python is another ``major.minor`` (Spark refuses to run the task; the doctor
  catches that refusal and says it plainly), or cannot be started at all;
* a job module cannot be imported on an executor (the project or a dependency is not shipped);
* a distribution has another version on an executor than on the driver;
* the executors' pyspark is not the JVM's Spark version.

The probe is compiled from source into a module that is not importable anywhere, so cloudpickle
ships it by value: it runs even on executors that cannot import sparkjobs, which is exactly the
case the doctor has to report.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sparkjobs.errors import SparkJobsError, TerminalError

#: runs in each task (and on the driver); only the standard library, imports inside the function
PROBE_SOURCE = """
def probe(modules, packages):
    import importlib, importlib.metadata, os, platform, socket, sys, traceback
    imports = {}
    for name in modules:
        try:
            importlib.import_module(name)
            imports[name] = None
        except BaseException as exc:  # noqa: BLE001 - the error is the report
            imports[name] = f"{type(exc).__name__}: {exc}"
    versions = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        import pyspark
        pyspark_version = pyspark.__version__
    except ImportError:
        pyspark_version = None
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "pyspark": pyspark_version,
        "imports": imports,
        "packages": versions,
    }


def partition(modules, packages, rows):
    return [probe(modules, packages)]
"""
_PROBE_MODULE = "sparkjobs_doctor_probe"  # never importable: cloudpickle pickles the probe by value
DEFAULT_TIMEOUT_S = 180.0


def make_probe() -> tuple[Callable[..., dict[str, Any]], Callable[..., list[dict[str, Any]]]]:
    """``(probe, partition)`` compiled from :data:`PROBE_SOURCE`; ``partition`` is the task function."""
    namespace: dict[str, Any] = {"__name__": _PROBE_MODULE}
    exec(compile(PROBE_SOURCE, f"<{_PROBE_MODULE}>", "exec"), namespace)
    return namespace["probe"], namespace["partition"]


class DoctorError(TerminalError):
    """The cluster cannot run the project's jobs as configured; the message says what to fix."""


@dataclass
class DoctorReport:
    """What the driver and each executor reported, and the problems found."""

    master: str
    spark_version: str
    app_id: str
    driver: dict[str, Any]
    executors: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        places = sorted({(e["host"], e["cwd"]) for e in self.executors})
        return {
            "ok": self.ok,
            "master": self.master,
            "app_id": self.app_id,
            "spark": self.spark_version,
            "driver": {k: self.driver[k] for k in ("python", "executable", "pyspark")},
            "executors": [{"host": h, "cwd": c, **_first(self.executors, h, c)} for h, c in places],
            "tasks": len(self.executors),
            "job_modules": sorted(self.driver["imports"]),
            "packages": self.driver["packages"],
            "problems": self.problems,
            "seconds": round(self.seconds, 1),
        }


def _first(probes: Iterable[dict[str, Any]], host: str, cwd: str) -> dict[str, Any]:
    found = next(p for p in probes if p["host"] == host and p["cwd"] == cwd)
    return {"python": found["python"], "executable": found["executable"], "pyspark": found["pyspark"]}


def _distinct(probes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One probe per (host, Python, what it imported): executors alike are reported once."""
    found: dict[str, dict[str, Any]] = {}
    for p in probes:
        key = repr(
            (
                p["host"],
                p["executable"],
                p["python"],
                p["pyspark"],
                sorted(p["imports"].items()),
                sorted(p["packages"].items()),
            )
        )
        found.setdefault(key, p)
    return list(found.values())


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def compare(driver: dict[str, Any], executors: Sequence[dict[str, Any]], spark_version: str) -> list[str]:
    """Every way the executors differ from the driver, each as one sentence that says what to fix."""
    problems: list[str] = []
    broken_driver = {m: e for m, e in driver["imports"].items() if e}
    for module, error in sorted(broken_driver.items()):
        problems.append(
            f"the driver cannot import job module {module} ({error}): install the project here first"
        )
    if driver["pyspark"] and _minor(driver["pyspark"]) != _minor(spark_version):
        problems.append(
            f"the driver's pyspark is {driver['pyspark']} but the cluster runs Spark {spark_version}: "
            f"install pyspark=={spark_version} on the driver"
        )
    for ex in _distinct(executors):
        where = f"executors on {ex['host']} running {ex['executable']}"
        if ex["python"] != driver["python"]:
            problems.append(
                f"{where} run Python {ex['python']} but the driver runs {driver['python']} "
                f"({driver['executable']}): point PYSPARK_PYTHON / spark.pyspark.python at a Python "
                f"{driver['python']} on every node, or ship the packed venv of `sparkjobs package`"
            )
        failed = {m: e for m, e in sorted(ex["imports"].items()) if e and m not in broken_driver}
        if failed:
            first = next(iter(failed.values()))
            problems.append(
                f"{where} cannot import {len(failed)} job module(s) ({', '.join(failed)}; first error: "
                f"{first}): ship the project with `sparkjobs package` (--archives ENV.tar.gz#environment "
                "or --py-files ZIP) or install it into the executors' Python"
            )
        missing = [n for n, v in sorted(ex["packages"].items()) if driver["packages"].get(n) and v is None]
        other = [
            f"{n} {v} (driver {driver['packages'][n]})"
            for n, v in sorted(ex["packages"].items())
            if v is not None and driver["packages"].get(n) not in (None, v)
        ]
        if missing or other:
            parts = [f"lack {', '.join(missing)}"] if missing else []
            parts += [f"have other versions: {', '.join(other)}"] if other else []
            problems.append(
                f"{where} {'; '.join(parts)}: ship the driver's environment with `sparkjobs package`"
            )
        if ex["pyspark"] and _minor(ex["pyspark"]) != _minor(spark_version):
            problems.append(
                f"{where} import pyspark {ex['pyspark']} but the cluster runs Spark {spark_version}"
            )
    return problems


def project_packages(modules: Iterable[str]) -> list[str]:
    """The distributions that provide ``modules`` and their dependency closure (no extras, no pyspark)."""
    from sparkjobs.deploy.closure import installed_distributions, resolve_closure

    owners = importlib.metadata.packages_distributions()
    installed = installed_distributions()
    names: set[str] = set()
    for module in modules:
        for dist_name in owners.get(module.split(".")[0], []):
            dist = installed.get(dist_name.lower().replace("_", "-"))
            if dist is None:
                continue
            names.add(dist.metadata["Name"].lower())
            try:
                closure = resolve_closure(dist.metadata["Name"], dist.requires or [], (), installed)
            except SparkJobsError:
                continue  # the driver's own install is incomplete: the import check reports it
            names.update(r.name for r in closure)
    return sorted(names)


def _explain_job_failure(exc: BaseException, driver: dict[str, Any], python_exec: str) -> str:
    text = str(exc)
    if "PYTHON_VERSION_MISMATCH" in text or "different version" in text:
        detail = next((line.strip() for line in text.splitlines() if "version" in line.lower()), text[:300])
        return (
            f"the executors run another Python than the driver ({driver['python']}, {driver['executable']}): "
            f"{detail}. Point PYSPARK_PYTHON / spark.pyspark.python at a Python {_minor(driver['python'])} "
            "on every node, or ship the packed venv of `sparkjobs package`"
        )
    if "Cannot run program" in text or "No such file or directory" in text:
        return (
            f"the executors cannot start Python {python_exec!r}: it does not exist on the workers (for a "
            "packed venv pass the bundle's --archives ENV.tar.gz#environment). Spark said: "
            + next((line.strip() for line in text.splitlines() if "Cannot run program" in line), text[:300])
        )
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return f"the probe job failed on the cluster: {first[:500]}"


def run_doctor(
    spark: Any,
    modules: Sequence[str],
    packages: Sequence[str],
    *,
    tasks: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    clock: Callable[[], float] | None = None,
) -> DoctorReport:
    """Run the probe on the driver and in ``tasks`` executor tasks; the report lists every problem."""
    import os
    import time

    now = clock or time.monotonic
    started = now()
    probe, partition = make_probe()
    sc = spark.sparkContext
    driver = probe(modules, packages)
    report = DoctorReport(master=sc.master, spark_version=sc.version, app_id=sc.applicationId, driver=driver)
    count = tasks or max(2, 2 * sc.defaultParallelism)
    mods, pkgs = list(modules), list(packages)
    outcome: dict[str, Any] = {}

    def job() -> None:
        try:
            rdd = sc.parallelize(range(count), count)
            outcome["probes"] = rdd.mapPartitions(functools.partial(partition, mods, pkgs)).collect()
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    worker = threading.Thread(target=job, name="sparkjobs-doctor", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        sc.cancelAllJobs()
        worker.join(30)
        report.problems.append(
            f"no executor finished a probe task within {timeout_s:.0f}s on {sc.master}: check that workers "
            "are registered with the master and have the cores and memory the application asks for "
            "(spark.executor.memory, spark.executor.cores)"
        )
    elif "error" in outcome:
        python_exec = os.environ.get("PYSPARK_PYTHON", "python3")
        report.problems.append(_explain_job_failure(outcome["error"], driver, python_exec))
    else:
        report.executors = outcome["probes"]
        report.problems.extend(compare(driver, report.executors, sc.version))
    report.seconds = now() - started
    return report


def raise_for(report: DoctorReport) -> None:
    """A failed report as one :class:`DoctorError` (exit code 1) listing every problem."""
    if report.ok:
        return
    lines = "\n".join(f"  - {p}" for p in report.problems)
    raise DoctorError(f"doctor: {len(report.problems)} problem(s) on {report.master}:\n{lines}")
