"""``--stack`` of the command-line tools: a stack name, ``org/project/stack``, or the path of the
stack file (``stacks/Pulumi.harbour.yaml``, what shell completion gives). An unknown stack is an
error that lists the stacks the project has."""

from __future__ import annotations

import os
from pathlib import Path

from toolchain.engine.model import ProjectError
from toolchain.engine.project import Project, load_project

_PREFIX, _SUFFIXES = "Pulumi.", (".yaml", ".yml")


def stack_names(project: Project) -> list[str]:
    """Every stack with a ``Pulumi.<stack>.yaml`` in the project's stackConfigDir."""
    return sorted(
        p.name[len(_PREFIX) : -len(".yaml")]
        for p in project.stack_config_dir.glob("Pulumi.*.yaml")
        if p.is_file()
    )


def _from_path(project: Project, arg: str) -> str:
    path = Path(arg)
    name = path.name
    suffix = next((s for s in _SUFFIXES if name.endswith(s)), "")
    if not name.startswith(_PREFIX) or len(name) <= len(_PREFIX) + len(suffix):
        raise ProjectError(
            f"--stack {arg}: a stack file is named Pulumi.<stack>.yaml; give the stack's name "
            f"or the path of its Pulumi.<stack>.yaml ({_known(project)})"
        )
    stack = name[len(_PREFIX) : -len(suffix)]
    if suffix != ".yaml":
        raise ProjectError(
            f"--stack {arg}: the Pulumi CLI reads only Pulumi.{stack}.yaml, not {name}"
        )
    if path.exists() and path.resolve().parent != project.stack_config_dir.resolve():
        raise ProjectError(
            f"--stack {arg}: the stack file must be in the project's stackConfigDir "
            f"{project.stack_config_dir} (the CLI reads Pulumi.<stack>.yaml only from there)"
        )
    return stack


def _known(project: Project) -> str:
    names = stack_names(project)
    where = os.path.relpath(project.stack_config_dir)
    if not names:
        return f"there is no Pulumi.<stack>.yaml in {where}"
    return f"stacks in {where}: {', '.join(names)}"


def resolve_stack(project_dir: str | os.PathLike[str], arg: str) -> str:
    """The stack name ``arg`` means, or :class:`ProjectError` naming the stacks that exist."""
    project = load_project(project_dir)
    if not arg.strip():
        raise ProjectError(f"--stack: a stack name is required ({_known(project)})")
    is_path = arg.endswith(_SUFFIXES) or (os.sep in arg and Path(arg).name.startswith(_PREFIX))
    stack = _from_path(project, arg) if is_path else arg
    short = stack.rsplit("/", 1)[-1]  # org/project/stack -> stack, as the file is named
    if not project.stack_file(short).is_file():
        raise ProjectError(
            f"--stack {arg}: no such stack (no {project.stack_file(short)}); {_known(project)}"
        )
    return stack
