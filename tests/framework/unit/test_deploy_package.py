"""``sparkjobs package``: the dependency closure, native-code detection, the archives and the command.

Everything runs on a throw-away "site-packages" of fake distributions (dist-info folders with
METADATA, WHEEL and RECORD) and a tiny project whose build backend lives in its own folder, so pip
builds its wheel without fetching anything.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from sparkjobs.deploy.artifacts import write_conf_bundle, write_pyfiles_zip
from sparkjobs.deploy.closure import installed_distributions, is_native, resolve_closure
from sparkjobs.deploy.package import PackageRequest, package, shell_command
from sparkjobs.errors import UsageError

PURE_WHEEL = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
NATIVE_WHEEL = "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_17_x86_64\n"


def fake_dist(
    site: Path,
    name: str,
    version: str = "1.0",
    requires: tuple[str, ...] = (),
    wheel: str | None = PURE_WHEEL,
    files: dict[str, str] | None = None,
    extras: tuple[str, ...] = (),
) -> None:
    """An installed distribution: its files, and a dist-info whose RECORD lists them."""
    files = files if files is not None else {f"{name}/__init__.py": f"NAME = {name!r}\n"}
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Provides-Extra: {e}" for e in extras] + [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    if wheel is not None:
        (info / "WHEEL").write_text(wheel)
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD", f"../../../bin/{name}-tool"]
    (info / "RECORD").write_text("".join(f"{r},,\n" for r in record))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    fake_dist(site, "alpha", requires=("gamma>=1", "pyspark>=4"))
    fake_dist(site, "beta", requires=("delta; extra == 'fast'",), extras=("fast",))
    fake_dist(site, "gamma", "1.5")
    fake_dist(site, "delta")
    fake_dist(site, "pyspark", "4.1.0", requires=("py4j==0.10.9",))
    fake_dist(site, "py4j", "0.10.9")
    fake_dist(site, "devtool")
    fake_dist(site, "unrelated")
    fake_dist(site, "winonly")
    return site


APP_REQUIRES = (
    "alpha",
    "beta[fast]",
    "devtool; extra == 'dev'",
    "winonly; sys_platform == 'win32'",
    "app[dev]; extra == 'all'",
)


def names(site: Path, extras: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> list[str]:
    installed = installed_distributions([str(site)])
    return [r.name for r in resolve_closure("app", APP_REQUIRES, extras, installed, exclude)]


def test_the_closure_follows_requirements_extras_and_markers_but_never_pyspark(site: Path) -> None:
    # gamma through alpha, delta through beta's "fast" extra; no pyspark (nor its py4j), no dev tool,
    # nothing for another platform, nothing merely installed
    assert names(site) == ["alpha", "beta", "delta", "gamma"]
    assert names(site, extras=("dev",)) == ["alpha", "beta", "delta", "devtool", "gamma"]
    # an extra of the project that names the project's own extra (app[dev])
    assert names(site, extras=("all",)) == ["alpha", "beta", "delta", "devtool", "gamma"]
    assert names(site, exclude=("beta",)) == ["alpha", "gamma"]


def test_the_closure_records_why_a_distribution_is_there(site: Path) -> None:
    installed = installed_distributions([str(site)])
    why = {r.name: r.why for r in resolve_closure("app", APP_REQUIRES, (), installed)}
    assert why["gamma"] == "app -> alpha -> gamma"
    assert why["delta"] == "app -> beta -> delta"


def test_a_missing_or_mismatched_requirement_is_an_error_naming_the_chain(site: Path) -> None:
    installed = installed_distributions([str(site)])
    with pytest.raises(
        UsageError, match=r"app requires 'nosuch>=2', which is not installed in .*--exclude nosuch"
    ):
        resolve_closure("app", ["nosuch>=2"], (), installed)
    with pytest.raises(UsageError, match=r"app requires 'gamma>=2' but gamma 1.5 is installed"):
        resolve_closure("app", ["gamma>=2"], (), installed)


def test_native_code_is_detected_from_wheel_tags_and_shared_libraries(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_dist(site, "purelib")
    fake_dist(site, "platlib", wheel="Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: py3-none-any\n")
    fake_dist(
        site, "tagged", wheel="Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: cp311-abi3-linux_x86_64\n"
    )
    fake_dist(site, "noinfo", wheel=None, files={"noinfo/_speed.cpython-311-x86_64-linux-gnu.so": "x"})
    fake_dist(site, "noinfo_pure", wheel=None)
    found = {n: is_native(d) for n, d in installed_distributions([str(site)]).items()}
    assert found == {"purelib": False, "platlib": True, "tagged": True, "noinfo": True, "noinfo-pure": False}


def test_the_pyfiles_zip_carries_code_and_dist_info_but_no_scripts_or_byte_code(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_dist(site, "gamma", files={"gamma/__init__.py": "X = 1\n", "gamma/__pycache__/x.pyc": "junk"})
    (site / "gamma-1.0.dist-info" / "entry_points.txt").write_text("[sparkjobs.jobs]\ng = gamma\n")
    with open(site / "gamma-1.0.dist-info" / "RECORD", "a") as f:
        f.write("gamma-1.0.dist-info/entry_points.txt,,\n")
    dest = write_pyfiles_zip(
        tmp_path / "out" / "deps.zip", [], [installed_distributions([str(site)])["gamma"]]
    )
    with zipfile.ZipFile(dest) as zf:
        assert sorted(zf.namelist()) == [
            "gamma-1.0.dist-info/METADATA",
            "gamma-1.0.dist-info/RECORD",
            "gamma-1.0.dist-info/entry_points.txt",
            "gamma/__init__.py",
        ]
    # importable from the zip, entry points included, exactly as --py-files puts it on sys.path
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import gamma, importlib.metadata as m;"
        "print(gamma.X, [e.value for e in m.entry_points(group='sparkjobs.jobs') if e.name == 'g'])"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(dest)], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "1 ['gamma']", proc.stderr
    first = dest.read_bytes()
    write_pyfiles_zip(dest, [], [installed_distributions([str(site)])["gamma"]])
    assert dest.read_bytes() == first  # deterministic


def test_the_conf_bundle_takes_base_and_environments_never_local(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    for layer, text in {"base": "a: 1\n", "prod": "a: 2\n", "local": "secret: x\n"}.items():
        (conf / layer).mkdir(parents=True)
        (conf / layer / "app.yml").write_text(text)
    (conf / "base" / "notes.txt").write_text("not config")
    copy, zipped, layers = write_conf_bundle(conf, tmp_path / "out")
    assert layers == ["base", "prod"]
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == [
        "base/app.yml",
        "prod/app.yml",
    ]
    with zipfile.ZipFile(zipped) as zf:
        assert sorted(zf.namelist()) == ["base/app.yml", "prod/app.yml"]


#: a PEP 517 backend in the project folder: pip builds the wheel without downloading a build system
BACKEND = """
import base64, hashlib, zipfile, pathlib
NAME, VERSION = "myproj", "0.3.0"

def _hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    root = pathlib.Path(__file__).parent
    info = f"{NAME}-{VERSION}.dist-info"
    files = {f"{NAME}/__init__.py": (root / NAME / "__init__.py").read_bytes(),
             f"{NAME}/jobs.py": (root / NAME / "jobs.py").read_bytes(),
             f"{info}/METADATA": (root / "METADATA").read_bytes(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
             f"{info}/entry_points.txt": b"[sparkjobs.jobs]\\nmyjob = myproj.jobs\\n"}
    record = "".join(f"{n},{_hash(d)},{len(d)}\\n" for n, d in files.items()) + f"{info}/RECORD,,\\n"
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)
        zf.writestr(f"{info}/RECORD", record)
    return name
"""


def make_project(tmp_path: Path, requires: tuple[str, ...]) -> Path:
    project = tmp_path / "myproj-src"
    (project / "myproj").mkdir(parents=True)
    (project / "myproj" / "__init__.py").write_text("")
    (project / "myproj" / "jobs.py").write_text("import gamma\nVALUE = gamma.NAME\n")
    (project / "backend.py").write_text(BACKEND)
    meta = ["Metadata-Version: 2.1", "Name: myproj", "Version: 0.3.0", "Provides-Extra: dev"]
    (project / "METADATA").write_text("\n".join([*meta, *(f"Requires-Dist: {r}" for r in requires)]) + "\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    conf = project / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base" / "jobs.yml").write_text("jobs: {}\n")
    return project


def test_a_pure_python_project_becomes_one_py_files_zip_and_a_command(tmp_path: Path, site: Path) -> None:
    project = make_project(tmp_path, ("gamma", "pyspark>=4", "devtool; extra == 'dev'"))
    out = tmp_path / "dist"
    bundle = package(
        PackageRequest(project_dir=project, out=out, conf_dir=project / "conf", master="spark://h:7077"),
        installed=installed_distributions([str(site)]),
    )
    assert (bundle.project, bundle.version, bundle.format) == ("myproj", "0.3.0", "zip")
    assert [d.name for d in bundle.distributions] == ["gamma"]
    assert [w.name for w in bundle.wheels] == ["myproj-0.3.0-py3-none-any.whl"]
    assert bundle.python_bundle == (out / "myproj-pyfiles.zip").resolve()
    with zipfile.ZipFile(bundle.python_bundle) as zf:
        tops = sorted({n.split("/")[0] for n in zf.namelist()})
    assert tops == ["gamma", "gamma-1.5.dist-info", "myproj", "myproj-0.3.0.dist-info"]
    assert bundle.submit_argv(master="spark://h:7077", job="myjob", env="prod") == [
        "spark-submit", "--master", "spark://h:7077", "--deploy-mode", "client",
        "--py-files", str(out.resolve() / "myproj-pyfiles.zip"),
        str(out.resolve() / "spark_submit.py"), "--job", "myjob", "--conf_dir", str(out.resolve() / "conf"),
        "--env", "prod",
    ]  # fmt: skip
    cluster = bundle.submit_argv(deploy_mode="cluster", job="myjob")
    assert cluster[cluster.index("--archives") + 1] == f"{out.resolve() / 'conf.zip'}#conf"
    assert cluster[cluster.index("--conf_dir") + 1] == "conf"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["distributions"] == [
        {"name": "gamma", "version": "1.5", "native": False, "required_by": "myproj -> gamma"}
    ]
    assert "spark.submit.pyFiles" in (out / "spark-cluster.yml").read_text()
    assert (out / "spark_submit.py").read_text().startswith('"""spark-submit entry point')
    assert sorted(p.name for p in project.iterdir()) == [
        "METADATA",
        "backend.py",
        "conf",
        "myproj",
        "pyproject.toml",
    ]


def test_a_native_dependency_makes_a_packed_venv_that_imports_everything(tmp_path: Path, site: Path) -> None:
    fake_dist(
        site,
        "fastlib",
        wheel=NATIVE_WHEEL,
        files={
            "fastlib/__init__.py": "SPEED = 'fast'\n",
            "fastlib/_core.cpython-311-x86_64-linux-gnu.so": "",
        },
    )
    project = make_project(tmp_path, ("gamma", "fastlib"))
    out = tmp_path / "dist"
    installed = installed_distributions([str(site)])
    with pytest.raises(UsageError, match="--format zip: fastlib has native code"):
        package(PackageRequest(project_dir=project, out=out, conf_dir=project / "conf", fmt="zip"), installed)
    bundle = package(PackageRequest(project_dir=project, out=out, conf_dir=project / "conf"), installed)
    assert (bundle.format, bundle.native) == ("venv", ["fastlib"])
    assert bundle.python_bundle.name == "myproj-env.tar.gz"
    argv = bundle.submit_argv(job="myjob")
    assert argv[argv.index("--archives") + 1] == f"{bundle.python_bundle}#environment"
    assert "spark.pyspark.python=./environment/bin/python" in argv
    assert f"spark.pyspark.driver.python={sys.executable}" in argv
    env = tmp_path / "unpacked" / "environment"  # what --archives ...#environment gives an executor
    env.mkdir(parents=True)
    with tarfile.open(bundle.python_bundle) as tar:
        assert not [m.name for m in tar.getmembers() if "__pycache__" in m.name or m.name.startswith("/")]
        tar.extractall(env, filter="tar")
    code = (
        "import sys, importlib.metadata as m, myproj.jobs, fastlib; "
        "print(sys.prefix == sys.argv[1], myproj.jobs.VALUE, fastlib.SPEED, "
        "sorted(e.name for e in m.entry_points(group='sparkjobs.jobs')))"
    )
    proc = subprocess.run(
        [str(env / "bin" / "python"), "-c", code, str(env)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.stdout.strip() == "True gamma fast ['myjob']", proc.stderr


def test_an_unknown_extra_is_refused_with_the_ones_there_are(tmp_path: Path, site: Path) -> None:
    project = make_project(tmp_path, ("gamma",))
    with pytest.raises(UsageError, match=r"--extra fast: myproj has no such extra \(it has: dev\)"):
        package(
            PackageRequest(
                project_dir=project, out=tmp_path / "d", conf_dir=project / "conf", extras=("fast",)
            ),
            installed_distributions([str(site)]),
        )


def test_a_folder_without_a_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no pyproject\.toml or setup\.py"):
        package(PackageRequest(project_dir=tmp_path, out=tmp_path / "d", conf_dir=tmp_path), {})


def test_the_printed_command_is_one_option_per_line_and_shell_quoted() -> None:
    text = shell_command(
        ["spark-submit", "--archives", "/d/e.tar.gz#environment", "/d/main.py", "--job", "x y"]
    )
    assert text == (
        "spark-submit \\\n    --archives '/d/e.tar.gz#environment' \\\n    /d/main.py \\\n    --job 'x y'"
    )


def test_the_real_project_closure_has_no_dev_tools_and_no_pyspark() -> None:
    """This repository's own requirements in this venv: pydantic-core and PyYAML make it a venv bundle."""
    dist = importlib.metadata.distribution("sparkjobs")
    installed = installed_distributions()
    found = {r.name: r for r in resolve_closure("sparkjobs", dist.requires or [], (), installed)}
    assert {"pydantic", "pydantic-core", "pyyaml", "click"} <= set(found)
    assert not {"pyspark", "py4j", "pytest", "ruff", "mypy", "fastapi", "pandas"} & set(found)
    assert found["pydantic-core"].native and not found["click"].native


def test_the_package_command_prints_the_bundle_and_the_exact_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sparkjobs.cli import cli

    project = make_project(tmp_path, ())
    (project / "myproj" / "jobs.py").write_text("VALUE = 1\n")
    out = tmp_path / "dist"
    result = CliRunner().invoke(
        cli,
        ["package", "--project", str(project), "--out", str(out), "--conf-dir", str(project / "conf"),
         "--master", "spark://h:7077", "--job", "myjob", "--env", "prod"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"packaged myproj 0.3.0 into {out.resolve()}: 0 dependencies, format zip"
    command = result.output.split("submit with:\n\n", 1)[1].split("\n\n", 1)[0]
    assert command == (
        "spark-submit \\\n    --master spark://h:7077 \\\n    --deploy-mode client \\\n"
        f"    --py-files {out.resolve()}/myproj-pyfiles.zip \\\n    {out.resolve()}/spark_submit.py \\\n"
        f"    --job myjob \\\n    --conf_dir {out.resolve()}/conf \\\n    --env prod"
    )
    bad = CliRunner().invoke(
        cli, ["package", "--project", str(tmp_path), "--out", str(out), "--conf-dir", str(tmp_path)]
    )
    assert bad.exit_code == 2 and "no pyproject.toml or setup.py" in bad.output
