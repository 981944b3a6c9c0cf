"""The offline engine: run a Pulumi Python project under mocks, as `pulumi preview` would.

Public API (import the submodules; this package imports nothing so that the child-process runner
can start in a project's own virtualenv with only the Pulumi SDK installed):

- ``toolchain.engine.run.run_program(project_dir, stack, *, preview=True, timeout=None) -> Plan``
- ``toolchain.engine.run.ProgramRun``: the same, streaming ``PlannedResource``s as they register
- ``toolchain.engine.model``: ``Plan``, ``PlannedResource``, ``Secret``, ``UNKNOWN``, errors
- ``toolchain.engine.project``: ``load_project``, ``load_stack_config`` (Pulumi.yaml, stack files)
- ``toolchain.engine.wire``: the engine's property wire format (secret/unknown/resource sigs)
"""
