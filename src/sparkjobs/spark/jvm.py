"""How a JVM the session factory launches is started: quiet logs, no progress bar off a terminal, its stderr.

* **Progress bar.** Spark's console progress bar writes ``\\r[Stage …]`` to stderr; off a terminal
  those bytes land inside log lines (JSON ones no longer parse). :func:`launch_conf` turns
  ``spark.ui.showConsoleProgress`` off whenever stderr is not a terminal, unless it is configured.
* **Quiet logs.** The packaged ``log4j2.properties`` (WARN for Spark, ERROR for loggers whose
  warnings are never actionable, such as ``NativeCodeLoader`` and the ~90-line ``FileStreamSink``
  stack trace of a missing input path) is passed as ``-Dlog4j2.configurationFile`` in
  ``spark.driver.extraJavaOptions`` unless the user configured logging of their own.
* **stderr.** :func:`launch_gateway_into` starts pyspark's JVM with its stderr appended to a file,
  so that nothing it prints breaks into a live display (``pipeline run`` on a terminal).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: the quiet log4j2 configuration shipped with the package
LOG4J2_FILE = Path(__file__).with_name("log4j2.properties")
PROGRESS_KEY = "spark.ui.showConsoleProgress"
DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"
#: any of these in the driver's java options means the user chose their own logging
OWN_LOG_FLAGS = ("-Dlog4j2.configurationFile=", "-Dlog4j.configurationFile=", "-Dlog4j.configuration=")


def has_own_log_config(conf: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    """True when the user configured JVM logging: a log4j flag in the driver's java options or a
    ``log4j2.properties`` in ``$SPARK_CONF_DIR``."""
    options = conf.get(DRIVER_JAVA_OPTIONS, "")
    if any(flag in options for flag in OWN_LOG_FLAGS):
        return True
    conf_dir = environ.get("SPARK_CONF_DIR")
    return conf_dir is not None and conf_dir != "" and (Path(conf_dir) / "log4j2.properties").is_file()


def launch_conf(
    conf: Mapping[str, str],
    *,
    stderr_is_tty: bool,
    new_jvm: bool = True,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``conf`` for a new SparkContext: progress bar and (``new_jvm``) log configuration as above.

    What the user set always wins: an explicit ``spark.ui.showConsoleProgress`` is kept, and the
    packaged log configuration is only added when they configured none. Under ``spark-submit``
    or Glue the driver JVM already runs (``new_jvm`` False): its java options are left alone.
    """
    env = os.environ if environ is None else environ
    out = dict(conf)
    if not stderr_is_tty:
        out.setdefault(PROGRESS_KEY, "false")
    if new_jvm and not has_own_log_config(out, env):
        flag = f"-Dlog4j2.configurationFile={LOG4J2_FILE.as_uri()}"
        out[DRIVER_JAVA_OPTIONS] = f"{out.get(DRIVER_JAVA_OPTIONS, '')} {flag}".strip()
    return out


def launch_gateway_into(conf: Mapping[str, str], stderr: Path) -> bool:
    """Launch pyspark's JVM now, its stderr appended to ``stderr``; False if a JVM already runs.

    pyspark starts its JVM once per process (``SparkContext._gateway``); the session builder then
    uses this one. Started this way, nothing the JVM prints reaches the terminal.
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return False
    spark_conf = SparkConf(loadDefaults=False).setAll(list(conf.items()))
    stderr.parent.mkdir(parents=True, exist_ok=True)
    with stderr.open("ab") as sink:  # the child keeps its own copy of the descriptor
        popen: dict[str, Any] = {"stderr": sink}
        gateway = launch_gateway(spark_conf, popen_kwargs=popen)
    SparkContext._ensure_initialized(gateway=gateway)
    return True
