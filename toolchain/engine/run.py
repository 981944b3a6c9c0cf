"""Run a Pulumi Python program offline, in a subprocess, and collect what it registers.

The parent side of :mod:`toolchain.engine._runner`: it starts the program with the stack's config
the way the Pulumi language host does, reads registrations from a pipe as they happen, adds what
the engine itself would add (default providers, provider ``version`` inputs), and checks what the
engine would refuse (disabled default providers, duplicate URNs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from .childenv import child_environment
from .model import (
    PROVIDER_TYPE_PREFIX,
    ROOT_STACK_TYPE,
    CustomTimeouts,
    DefaultProviderDisabledError,
    Diagnostic,
    EngineError,
    EnvRead,
    Plan,
    PlannedResource,
    ProgramError,
    ResourceOptions,
)
from .project import Project, StackConfig, load_project, load_stack_config
from .venv import ensure_virtualenv
from .wire import UNKNOWN_VALUE, decode_map

_REPO_ROOT = Path(__file__).resolve().parents[2]
_NAME_FIRST = re.compile(r"[A-Za-z_.]")
_NAME_REST = re.compile(r"[A-Za-z0-9_.]")
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")


def into_qname(text: str) -> str:
    """The engine's ``tokens.IntoQName``: a lossy, deterministic conversion to a QName."""
    parts = []
    for seg in text.split("/"):
        if not seg:
            continue
        chars = list(seg)
        if not _NAME_FIRST.fullmatch(chars[0]):
            chars[0] = "_"
        for i in range(1, len(chars)):
            if not _NAME_REST.fullmatch(chars[i]):
                chars[i] = "_"
        parts.append("".join(chars))
    return "/".join(parts) or "_"


def default_provider_name(version: str, plugin_download_url: str = "") -> str:
    """The engine's name for a default provider (``ProviderRequest.Name``)."""
    name = "default"
    m = _SEMVER.match(version) if version else None
    if m:
        name += f"_{int(m.group(1))}_{int(m.group(2))}_{int(m.group(3))}"
        for part in (m.group(4) or "").split("."):
            if part:
                name += "_" + part
        for part in (m.group(5) or "").split("."):
            if part:
                name += "_" + part
    if plugin_download_url:
        name += "_" + into_qname(plugin_download_url)
    return name


#: bytes of pipe buffer between the program and its reader (Linux allows up to
#: /proc/sys/fs/pipe-max-size, 1 MiB by default, to unprivileged processes)
PIPE_SIZE = 1024 * 1024

#: Linux refuses to exec with one environment string over 128 KiB (MAX_ARG_STRLEN); a stack with
#: hundreds of domains has a PULUMI_CONFIG that large.
ENV_VALUE_LIMIT = 100 * 1024


def spill_large_env(env: dict[str, str]) -> str | None:
    """Move oversized variables out of ``env`` into a JSON file that the child loads into its
    own environment first thing. Returns the file's path, or None when nothing was too big."""
    large = {k: v for k, v in env.items() if len(k) + len(v) + 2 > ENV_VALUE_LIMIT}
    if not large:
        return None
    for key in large:
        del env[key]
    fd, path = tempfile.mkstemp(prefix="hkmail-env-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(large, f)
    return path


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


class ProgramRun:
    """One offline run of a program. Iterate :meth:`resources` to receive registrations as the
    program makes them (default providers come just before their first user); afterwards
    :attr:`plan` holds the whole result. Any failure raises an :class:`EngineError` subclass.
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        stack: str,
        *,
        preview: bool = True,
        timeout: float | None = None,
        python: str | None = None,
        pass_env: tuple[str, ...] = (),
        on_update_needed: Callable[[str], None] | None = None,
    ) -> None:
        self.project: Project = load_project(project_dir)
        self.config: StackConfig = load_stack_config(self.project, stack)
        self.stack = self.config.stack
        self.preview = preview
        self.timeout = timeout
        self._python = python or self._project_python()
        self._disabled = self.config.disabled_default_providers()
        self._proc: subprocess.Popen[bytes] | None = None
        self._events: IO[str] | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._timer: threading.Timer | None = None
        self._timed_out = False
        self._plan: Plan | None = None
        #: extra environment variables the program may see (see childenv)
        self.pass_env = pass_env
        self._home: str | None = None
        #: called (from the reading thread) the first time a preview says that an update-mode
        #: run could register more (see _runner._UpdateNeeded), with the reason
        self.on_update_needed = on_update_needed
        #: that reason, once the preview said so
        self.update_needed = ""

    def _project_python(self) -> str:
        venv = self.project.virtualenv
        if venv is not None and not (venv / "bin" / "python").exists():
            return ensure_virtualenv(
                venv, self.project.root / "requirements.txt", what=f"project {self.project.name}"
            )
        return self.project.python()

    # -- process management -------------------------------------------------------------------

    def start(self) -> None:
        read_fd, write_fd = os.pipe()
        # A roomy pipe: the program should never wait for a busy reader (the gate's parent).
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        # Only what the program needs (childenv): no cloud keys, tokens or passphrases; HOME is
        # an empty directory of its own.
        self._home = tempfile.mkdtemp(prefix="hkmail-home-")
        env = child_environment(pass_env=self.pass_env, home=self._home)
        env.update(self.config.env(dry_run=self.preview))
        config_file = spill_large_env(env)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        program = self.project.main
        pwd = program if program.is_dir() else program.parent
        cmd = [
            self._python,
            "-m",
            "toolchain.engine._runner",
            "--fd",
            str(write_fd),
            "--program",
            str(program),
            "--project",
            self.project.name,
            "--stack",
            self.stack,
            "--pwd",
            str(pwd),
        ]
        if not self.preview:
            cmd.append("--no-preview")
        if config_file is not None:
            cmd += ["--env-file", config_file]
        # closed in close(); files rather than pipes so a chatty program never blocks
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                cmd,
                cwd=str(pwd),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._stdout,
                stderr=self._stderr,
                pass_fds=(write_fd,),
            )
        except OSError as exc:
            os.close(read_fd)
            raise EngineError(
                f"cannot start the program's Python {self._python}: {exc.strerror}",
                str(self.project.root / "Pulumi.yaml"),
            ) from exc
        finally:
            os.close(write_fd)
        self._events = os.fdopen(read_fd, "r", encoding="utf-8")
        if self.timeout is not None:
            self._timer = threading.Timer(self.timeout, self._kill_for_timeout)
            self._timer.daemon = True
            self._timer.start()

    @property
    def started(self) -> bool:
        return self._proc is not None

    def _kill_for_timeout(self) -> None:
        self._timed_out = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._events, self._stdout, self._stderr):
            if stream is not None:
                stream.close()
        self._events = self._stdout = self._stderr = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def __enter__(self) -> ProgramRun:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, stream: IO[bytes] | None) -> str:
        if stream is None:
            return ""
        stream.seek(0)
        return stream.read().decode("utf-8", errors="replace")

    @property
    def program_output(self) -> str:
        """What the program printed (stdout then stderr)."""
        return self._read(self._stdout) + self._read(self._stderr)

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            raise RuntimeError("the program has not finished; iterate resources() first")
        return self._plan

    # -- events -> resources ------------------------------------------------------------------

    def _default_provider(
        self, package: str, version: str, url: str, known: dict[str, PlannedResource]
    ) -> tuple[PlannedResource, bool]:
        name = default_provider_name(version, url)
        urn = (
            f"urn:pulumi:{self.stack}::{self.project.name}::{PROVIDER_TYPE_PREFIX}{package}::{name}"
        )
        if urn in known:
            return known[urn], False
        inputs = self.config.package_config(package)
        if version:
            inputs["version"] = version
        if url:
            inputs["pluginDownloadURL"] = url
        provider = PlannedResource(
            urn=urn,
            type=PROVIDER_TYPE_PREFIX + package,
            name=name,
            custom=True,
            parent=None,
            provider=None,
            inputs=inputs,
            id=None if self.preview else f"{name}-id",
            version=version,
            plugin_download_url=url,
            synthetic=True,
        )
        return provider, True

    def _resource(self, ev: Mapping[str, Any]) -> PlannedResource:
        inputs = decode_map(ev.get("inputs", {}))
        rtype = str(ev["type"])
        version = str(ev.get("version") or "")
        url = str(ev.get("pluginDownloadURL") or "")
        if rtype.startswith(PROVIDER_TYPE_PREFIX):
            # The engine records the plugin a provider uses among its inputs.
            if version:
                inputs["version"] = version
            if url:
                inputs["pluginDownloadURL"] = url
        timeouts = ev.get("customTimeouts") or {}
        options = ResourceOptions(
            protect=bool(ev.get("protect")),
            retain_on_delete=bool(ev.get("retainOnDelete")),
            delete_before_replace=ev.get("deleteBeforeReplace"),
            ignore_changes=tuple(ev.get("ignoreChanges", ())),
            replace_on_changes=tuple(ev.get("replaceOnChanges", ())),
            aliases=tuple(ev.get("aliases", ())),
            custom_timeouts=CustomTimeouts(
                create=float(timeouts.get("create", 0.0)),
                update=float(timeouts.get("update", 0.0)),
                delete=float(timeouts.get("delete", 0.0)),
            ),
            additional_secret_outputs=tuple(ev.get("additionalSecretOutputs", ())),
            import_id=str(ev.get("importId") or ""),
            deleted_with=str(ev.get("deletedWith") or ""),
        )
        return PlannedResource(
            urn=str(ev["urn"]),
            type=rtype,
            name=str(ev["name"]),
            custom=bool(ev.get("custom", True)),
            parent=ev.get("parent") or None,
            provider=ev.get("provider") or None,
            inputs=inputs,
            options=options,
            dependencies=tuple(ev.get("dependencies", ())),
            property_dependencies={
                k: tuple(v) for k, v in (ev.get("propertyDependencies") or {}).items()
            },
            providers=dict(ev.get("providers") or {}),
            id=ev.get("id") or None,
            version=version,
            plugin_download_url=url,
            external=ev.get("kind") == "read",
            source=str(ev.get("source") or ""),
        )

    def resources(self) -> Iterator[PlannedResource]:
        """Yield resources in the order the engine would see them; then :attr:`plan` is set."""
        if self._events is None:
            self.start()
        assert self._events is not None
        known: dict[str, PlannedResource] = {}
        order: list[str] = []
        outputs: dict[str, dict[str, object]] = {}
        diagnostics: list[Diagnostic] = []
        env_reads: list[EnvRead] = []
        error: Mapping[str, Any] | None = None
        done = False
        stack_urn = f"urn:pulumi:{self.stack}::{self.project.name}::{ROOT_STACK_TYPE}::"
        stack_urn += f"{self.project.name}-{self.stack}"
        for line in self._events:
            ev = json.loads(line)
            kind = ev.get("kind")
            if kind in ("resource", "read"):
                res = self._resource(ev)
                if res.urn in known:
                    raise ProgramError(
                        f"Duplicate resource URN '{res.urn}'; try giving it a unique name",
                        res.urn,
                    )
                needs_default = (
                    res.custom
                    and not res.is_provider
                    and res.provider is None
                    and res.type != ROOT_STACK_TYPE
                )
                if needs_default:
                    pkg = res.package
                    if pkg != "pulumi" and (pkg in self._disabled or "*" in self._disabled):
                        raise DefaultProviderDisabledError(
                            f"Default provider for '{pkg}' disabled. '{res.urn}' must use an "
                            "explicit provider.",
                            res.urn,
                        )
                    provider, new = self._default_provider(
                        pkg, res.version, res.plugin_download_url, known
                    )
                    if new:
                        known[provider.urn] = provider
                        order.append(provider.urn)
                        yield provider
                    pid = provider.id if provider.id else UNKNOWN_VALUE
                    res = dataclasses.replace(res, provider=f"{provider.urn}::{pid}")
                known[res.urn] = res
                order.append(res.urn)
                yield res
            elif kind == "outputs":
                outputs[str(ev["urn"])] = decode_map(ev.get("outputs", {}))
            elif kind == "log":
                diagnostics.append(
                    Diagnostic(str(ev["severity"]), str(ev["message"]), str(ev.get("urn") or ""))
                )
            elif kind == "update_needed":
                self.update_needed = str(ev.get("why") or "yes")
                if self.on_update_needed is not None:
                    self.on_update_needed(self.update_needed)
            elif kind == "env":
                env_reads.append(
                    EnvRead(str(ev["name"]), bool(ev.get("present")), str(ev.get("location") or ""))
                )
            elif kind == "invoke":
                self._check_invoke(ev)
            elif kind == "error":
                error = ev
            elif kind == "done":
                done = True
        assert self._proc is not None
        code = self._proc.wait()
        if self._timer is not None:
            self._timer.cancel()
        if self._timed_out:
            raise ProgramError(
                f"the program did not finish within {self.timeout:g} seconds",
                str(self.project.main),
            )
        if error is not None or code != 0 or not done:
            raise self._program_error(error, code)
        errors = [d for d in diagnostics if d.severity == "error"]
        if errors:
            # The CLI fails an update whose program logged an error.
            raise ProgramError(
                "; ".join(d.message.strip() for d in errors),
                errors[0].urn or str(self.project.main),
            )
        resources = tuple(
            dataclasses.replace(known[u], outputs=outputs[u]) if u in outputs else known[u]
            for u in order
        )
        self._plan = Plan(
            project=self.project.name,
            stack=self.stack,
            resources=resources,
            outputs=outputs.get(stack_urn, {}),
            diagnostics=tuple(Diagnostic("warning", w) for w in self.config.warnings)
            + tuple(diagnostics),
            config=self.config.secrets_for_display(),
            env_reads=tuple(env_reads),
            update_mode=not self.preview,
        )

    def _check_invoke(self, ev: Mapping[str, Any]) -> None:
        token = str(ev.get("token", ""))
        pkg = token.split(":", 1)[0]
        if ev.get("provider") or pkg == "pulumi":
            return
        if pkg in self._disabled or "*" in self._disabled:
            raise DefaultProviderDisabledError(
                f"Default provider for '{pkg}' disabled. '{token}' must use an explicit provider.",
                token,
            )

    def _program_error(self, error: Mapping[str, Any] | None, code: int) -> ProgramError:
        where = str(self.project.main)
        stderr = self._read(self._stderr).strip()
        if error is None:
            detail = _tail(stderr) or f"exit status {code}"
            return ProgramError(
                f"the program stopped without finishing ({detail})",
                where,
                traceback_tail=_tail(stderr),
            )
        kind = error.get("error")
        if kind == "run_error":
            return ProgramError(str(error.get("message", "")), where)
        if kind == "exit":
            # The program reported its own error and exited: pass its words on unchanged.
            message = str(error.get("message") or "") or stderr
            if not message:
                message = f"the program exited with status {error.get('code', 1)}"
            return ProgramError(message, where)
        location = str(error.get("location") or "") or where
        return ProgramError(
            f"the program raised {error.get('message', '')}",
            location,
            traceback_tail=str(error.get("traceback", "")),
        )


def run_program(
    project_dir: str | os.PathLike[str],
    stack: str,
    *,
    preview: bool = True,
    timeout: float | None = None,
) -> Plan:
    """Run a project's program for ``stack`` offline and return everything it would register."""
    with ProgramRun(project_dir, stack, preview=preview, timeout=timeout) as run:
        for _ in run.resources():
            pass
        return run.plan
