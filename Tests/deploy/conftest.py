"""Fixtures for the chart tests: the helm binaries scripts/test-deploy extracted, and rendering helpers."""

import os
import pathlib
import re
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "charter"
VARIANTS = ["default"] + sorted(p.stem for p in (CHART / "ci").glob("*-values.yaml"))


def helm_binaries():
    raw = os.environ.get("CHARTER_HELM", "")
    binaries = [b for b in raw.split(":") if b]
    if not binaries:
        raise RuntimeError("CHARTER_HELM is not set: run these tests through scripts/test-deploy")
    return binaries


class Helm:
    """One helm binary, rendering the chart."""

    def __init__(self, path):
        self.path = path
        self.version = subprocess.run([path, "version", "--short"], check=True, capture_output=True,
                                      text=True).stdout.strip()

    def template_text(self, variant="default", *sets, namespace="charter", release="charter", values=()):
        args = [self.path, "template", release, str(CHART), "--namespace", namespace]
        if variant != "default":
            args += ["-f", str(CHART / "ci" / f"{variant}.yaml")]
        for extra in values:
            args += ["-f", str(extra)]
        for item in sets:
            args += ["--set", item]
        result = subprocess.run(args, capture_output=True, text=True)
        if result.returncode != 0:
            raise RenderError(result.stderr)
        return result.stdout

    def template(self, variant="default", *sets, **kwargs):
        return Manifests(self.template_text(variant, *sets, **kwargs))


class RenderError(Exception):
    pass


class Manifests:
    """The documents of one render, with lookups by kind."""

    def __init__(self, text):
        self.text = text
        self.docs = [d for d in yaml.safe_load_all(text) if d]

    def of(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind):
        docs = self.of(kind)
        assert len(docs) == 1, f"expected one {kind}, found {len(docs)}"
        return docs[0]

    def pod_specs(self):
        """(owner kind, pod spec) for every pod the render makes."""
        for doc in self.docs:
            if doc["kind"] in ("Deployment", "Job"):
                yield doc["kind"], doc["spec"]["template"]["spec"]
            elif doc["kind"] == "Pod":
                yield "Pod", doc["spec"]

    def containers(self):
        for kind, spec in self.pod_specs():
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                yield kind, container


@pytest.fixture(params=helm_binaries(), ids=lambda p: pathlib.Path(p).parent.name)
def helm(request):
    return Helm(request.param)


def known_config_variables():
    """The CHARTER_* variables of the configuration table in docs/operations.md, the one source of truth."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2:
            match = re.fullmatch(r"`(CHARTER_[A-Z0-9_]+)`", cells[0])
            if match:
                names.add(match.group(1))
    return names
