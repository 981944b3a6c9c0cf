"""The hkmail component package's entry point: the Pulumi CLI's python language host runs this
directory (``python components <engine address>``) when a consumer's program uses the package;
``component_provider_host`` infers the schema from the components' typed args and serves them."""

import tomllib
from pathlib import Path

from pulumi.provider.experimental import component_provider_host

from hkmail.components.domain import MailDomain
from hkmail.components.private_alicloud import AlicloudMailServer
from hkmail.components.private_tencent import TencentMailServer

#: The public components, in the package's one module: hkmail:index:<Name>.
COMPONENTS = [MailDomain, TencentMailServer, AlicloudMailServer]


def package_version() -> str:
    """The schema's version is the package's (pyproject.toml), not the SDK's 0.0.0 default."""
    with (Path(__file__).resolve().parent / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


if __name__ == "__main__":
    component_provider_host(COMPONENTS, "hkmail", version=package_version())
