"""How a new JVM is launched (no JVM here): progress bar off a terminal, quiet packaged log4j2 config."""

from __future__ import annotations

from pathlib import Path

from sparkjobs.pipeline.planning import default_session_factory
from sparkjobs.settings import Settings
from sparkjobs.spark.jvm import LOG4J2_FILE, launch_conf

QUIET = f"-Dlog4j2.configurationFile={LOG4J2_FILE.as_uri()}"


def test_the_progress_bar_is_off_whenever_stderr_is_not_a_terminal() -> None:
    off = launch_conf({"spark.app.name": "x"}, stderr_is_tty=False, environ={})
    assert off["spark.ui.showConsoleProgress"] == "false"
    on_a_terminal = launch_conf({"spark.app.name": "x"}, stderr_is_tty=True, environ={})
    assert "spark.ui.showConsoleProgress" not in on_a_terminal  # Spark's own default
    mine = launch_conf({"spark.ui.showConsoleProgress": "true"}, stderr_is_tty=False, environ={})
    assert mine["spark.ui.showConsoleProgress"] == "true"  # configured: kept


def test_a_new_jvm_gets_the_packaged_quiet_log4j2_config() -> None:
    conf = launch_conf({}, stderr_is_tty=False, environ={})
    assert conf["spark.driver.extraJavaOptions"] == QUIET
    kept = launch_conf({"spark.driver.extraJavaOptions": "-Xss4m"}, stderr_is_tty=False, environ={})
    assert kept["spark.driver.extraJavaOptions"] == f"-Xss4m {QUIET}"
    text = LOG4J2_FILE.read_text()
    assert "rootLogger.level = warn" in text
    assert "logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader" in text
    assert "org.apache.spark.sql.execution.streaming.sinks.FileStreamSink" in text


def test_a_users_own_log_config_wins(tmp_path: Path) -> None:
    own = {"spark.driver.extraJavaOptions": "-Dlog4j2.configurationFile=file:/etc/mine.properties"}
    assert launch_conf(own, stderr_is_tty=False, environ={}) == {
        **own,
        "spark.ui.showConsoleProgress": "false",
    }
    legacy = {"spark.driver.extraJavaOptions": "-Dlog4j.configuration=file:/etc/old.properties"}
    assert launch_conf(legacy, stderr_is_tty=True, environ={}) == legacy
    (tmp_path / "log4j2.properties").write_text("rootLogger.level = info\n")
    assert launch_conf({}, stderr_is_tty=True, environ={"SPARK_CONF_DIR": str(tmp_path)}) == {}
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert "spark.driver.extraJavaOptions" in launch_conf(
        {}, stderr_is_tty=True, environ={"SPARK_CONF_DIR": str(empty_dir)}
    )


def test_an_existing_driver_jvm_keeps_its_java_options() -> None:
    """Under spark-submit or Glue the driver JVM runs already: only the progress bar is set."""
    assert launch_conf({}, stderr_is_tty=False, new_jvm=False, environ={}) == {
        "spark.ui.showConsoleProgress": "false"
    }


def test_the_packaged_config_ships_in_the_wheel() -> None:
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert '"*.properties"' in pyproject
    assert LOG4J2_FILE.is_file()


def test_the_pipeline_factory_can_send_the_jvms_stderr_to_a_file(tmp_path: Path) -> None:
    provider = default_session_factory(Settings(), "daily", True, "local", jvm_stderr=tmp_path / "jvm.log")
    assert provider.jvm_stderr == tmp_path / "jvm.log"
    assert default_session_factory(Settings(), "daily", True, "local").jvm_stderr is None
