"""The Helm chart, proven by rendering: secrets, hooks, probes, security, disruption, selectors, determinism."""

import hashlib

import pytest
import yaml

from conftest import CHART, ROOT, VARIANTS, RenderError, known_config_variables

SECRET_VARIABLES = {"CHARTER_DATABASE_URL", "CHARTER_DATABASE_MIGRATION_URL", "CHARTER_DATABASE_LISTEN_URL", "CHARTER_KEK",
                    "CHARTER_BOOTSTRAP_API_KEY", "CHARTER_SMTP_PASSWORD"}
HA = "ha-values"


def ci_values(variant):
    return yaml.safe_load((CHART / "ci" / f"{variant}.yaml").read_text()) or {}


# MARK: - Secrets


@pytest.mark.parametrize("variant", ["existing-secret-values", "no-hooks-values"])
def test_existing_secret_leaves_no_secret_text_anywhere(helm, variant):
    rendered = helm.template(variant)
    assert rendered.of("Secret") == [], "with existingSecret the chart makes no Secret"
    for needle in ("postgres://", "postgresql://", "chtr_", "password", "stringData", "data:"):
        lines = [line for line in rendered.text.splitlines() if needle in line and not line.lstrip().startswith("#")]
        if needle == "data:":
            lines = [line for line in lines if line.strip() == "data:" and "ConfigMap" not in line]
        assert not [line for line in lines if needle != "data:"], f"{needle!r} in an existingSecret render: {lines}"
    secret_name = ci_values(variant)["existingSecret"]["name"]
    for _, container in rendered.containers():
        for env in container.get("env", []):
            if env["name"] in SECRET_VARIABLES:
                assert "value" not in env
                assert env["valueFrom"]["secretKeyRef"]["name"] == secret_name


def test_existing_secret_refuses_inline_secrets(helm):
    with pytest.raises(RenderError, match="existingSecret.name is set"):
        helm.template("existing-secret-values", "database.password=oops")


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_secret_is_ever_an_env_value(helm, variant):
    rendered = helm.template(variant)
    for kind, container in rendered.containers():
        for env in container.get("env", []):
            if env["name"] in SECRET_VARIABLES:
                assert "value" not in env, f"{kind}/{container['name']}: {env['name']} has a plain value"
                assert "secretKeyRef" in env["valueFrom"]
    for config_map in rendered.of("ConfigMap"):
        assert not SECRET_VARIABLES & set(config_map.get("data", {}))


def test_chart_made_secrets_appear_only_in_secrets(helm):
    values = ci_values(HA)
    secrets = [values["database"]["password"], values["database"]["migrationPassword"], values["kek"],
               values["bootstrap"]["apiKey"], values["smtp"]["password"]]
    rendered = helm.template(HA)
    for doc in rendered.docs:
        if doc["kind"] == "Secret":
            continue
        text = yaml.safe_dump(doc)
        for secret in secrets:
            assert secret not in text, f"a secret value leaked into {doc['kind']}/{doc['metadata']['name']}"
    service = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    # The service never sees the schema owner's credentials or the bootstrap key.
    names = {e["name"] for e in service["env"]}
    assert "CHARTER_DATABASE_MIGRATION_URL" not in names and "CHARTER_BOOTSTRAP_API_KEY" not in names


def test_a_pooler_takes_the_pooled_connections_and_listen_goes_to_the_database(helm):
    def secret_urls(rendered):
        service_secret = [s for s in rendered.of("Secret") if "database-url" in s.get("stringData", {})]
        assert len(service_secret) == 1
        return service_secret[0]["stringData"]

    direct = secret_urls(helm.template(HA))
    assert "listen-database-url" not in direct, "without a pooler the LISTEN uses database-url"
    pooled = helm.template(HA, "database.pooler.host=pgbouncer.charter.svc", "database.pooler.port=6432")
    urls = secret_urls(pooled)
    host = ci_values(HA)["database"]["host"]
    assert "@pgbouncer.charter.svc:6432/" in urls["database-url"]
    assert f"@{host}:" in urls["listen-database-url"] and "pgbouncer" not in urls["listen-database-url"]
    service = pooled.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    listen = next(e for e in service["env"] if e["name"] == "CHARTER_DATABASE_LISTEN_URL")
    assert listen["valueFrom"]["secretKeyRef"]["key"] == "listen-database-url"
    assert listen["valueFrom"]["secretKeyRef"]["optional"] is True


def test_smtp_configures_the_service_only_and_its_password_comes_from_the_secret(helm):
    assert not {k for k in helm.template().one("ConfigMap")["data"] if k.startswith("CHARTER_SMTP_")}, "off by default"
    rendered = helm.template(HA)
    data = rendered.one("ConfigMap")["data"]
    assert data["CHARTER_SMTP_HOST"] == "smtp.example.com"
    assert data["CHARTER_SMTP_TLS"] == "starttls"
    assert data["CHARTER_SMTP_FROM"] == "Charter Approvals <charter@example.com>"
    assert data["CHARTER_SMTP_USERNAME"] == "charter"
    assert data["CHARTER_SMTP_TIMEOUT_SECONDS"] == "20"
    assert "CHARTER_SMTP_PORT" not in data, "port 0 leaves the mode's default"
    deployment = rendered.one("Deployment")["spec"]["template"]["spec"]
    service = deployment["containers"][0]
    password = next(e for e in service["env"] if e["name"] == "CHARTER_SMTP_PASSWORD")
    secret = next(s for s in rendered.of("Secret") if password["valueFrom"]["secretKeyRef"]["name"] == s["metadata"]["name"])
    assert secret["stringData"][password["valueFrom"]["secretKeyRef"]["key"]] == "smtp-relay-password"
    mount = next(m for m in service["volumeMounts"] if m["name"] == "smtp-ca")
    assert data["CHARTER_SMTP_CA_FILE"] == mount["mountPath"] + "/ca.crt"
    assert any(v["name"] == "smtp-ca" and v["secret"]["secretName"] == "smtp-relay-ca" for v in deployment["volumes"])
    for kind, container in rendered.containers():
        if kind != "Deployment":
            assert "CHARTER_SMTP_PASSWORD" not in {e["name"] for e in container.get("env", [])}, kind


def test_outbound_allowed_networks_reach_the_service_joined(helm):
    data = helm.template().one("ConfigMap")["data"]
    assert "CHARTER_OUTBOUND_ALLOWED_CIDRS" not in data, "public destinations only by default"
    assert data["CHARTER_WEBHOOKS_TIMEOUT_SECONDS"] == "10"
    data = helm.template("default", "config.outbound.allowedCidrs={10.20.0.0/16,fd00:1::/64}").one("ConfigMap")["data"]
    assert data["CHARTER_OUTBOUND_ALLOWED_CIDRS"] == "10.20.0.0/16,fd00:1::/64"
    with pytest.raises(RenderError):
        helm.template("default", "config.outbound.allowedCidrs={10.20.0.0}")


def test_smtp_needs_a_sender_and_a_password_with_a_user(helm):
    with pytest.raises(RenderError, match="smtp.from is required"):
        helm.template("minimal-values", "smtp.host=smtp.example.com")
    with pytest.raises(RenderError, match="smtp.password is required"):
        helm.template("minimal-values", "smtp.host=smtp.example.com", "smtp.from=a@example.com", "smtp.username=u")
    with pytest.raises(RenderError, match="existingSecret.name is set"):
        helm.template("existing-secret-values", "smtp.password=oops")


# MARK: - Migrations


def test_migration_job_is_a_hook_by_default(helm):
    rendered = helm.template("minimal-values")
    job = rendered.one("Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    migrate_secret = [s for s in rendered.of("Secret") if s["metadata"]["name"].endswith("-migrate")]
    assert len(migrate_secret) == 1
    annotations = migrate_secret[0]["metadata"]["annotations"]
    # The job's Secret must exist before the job: a hook of lower weight.
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(annotations["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    # The chart's ServiceAccount is created after pre-install hooks run.
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "default"


def test_migration_job_without_hooks_is_plain_and_named_per_revision(helm):
    rendered = helm.template("no-hooks-values")
    job = rendered.one("Job")
    annotations = job["metadata"].get("annotations", {})
    assert not [key for key in annotations if key.startswith("helm.sh/hook")]
    assert "-migrate-1-" in job["metadata"]["name"]
    other_image = helm.template("no-hooks-values", "image.tag=9.9.9").one("Job")
    assert other_image["metadata"]["name"] != job["metadata"]["name"], "a new image must get a new Job"
    for doc in helm.template("minimal-values", "migrations.useHelmHooks=false").docs:
        assert not [k for k in doc["metadata"].get("annotations", {}) if k.startswith("helm.sh/hook")] or \
            doc["kind"] == "Pod", f"{doc['kind']} still a hook"


def test_migrations_can_be_turned_off(helm):
    rendered = helm.template("minimal-values", "migrations.enabled=false")
    assert rendered.of("Job") == []
    assert all(not s["metadata"]["name"].endswith("-migrate") for s in rendered.of("Secret"))


def test_migration_job_reads_owner_credentials_from_the_existing_secret(helm):
    job = helm.template("existing-secret-values").one("Job")
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    ref = env["CHARTER_DATABASE_MIGRATION_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "charter-credentials", "key": "owner-uri", "optional": True}
    assert env["CHARTER_BOOTSTRAP_API_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True


# MARK: - Probes and drain


@pytest.mark.parametrize("variant", VARIANTS)
def test_probes_and_prestop(helm, variant):
    deployment = helm.template(variant).one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness must never touch the database"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["/app/charter", "sleep"]
    config = helm.template(variant).one("ConfigMap")["data"]
    drain = int(config["CHARTER_SHUTDOWN_DRAIN_SECONDS"])
    grace = int(config["CHARTER_SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > int(command[2]) + drain + grace


def test_grace_period_must_exceed_prestop_drain_and_grace(helm):
    timing = ("preStopSleepSeconds=5", "config.shutdown.drainSeconds=15", "config.shutdown.graceSeconds=10")
    for period in (20, 30):
        with pytest.raises(RenderError, match="terminationGracePeriodSeconds"):
            helm.template("minimal-values", f"terminationGracePeriodSeconds={period}", *timing)
    helm.template("minimal-values", "terminationGracePeriodSeconds=31", *timing)


# MARK: - Security


@pytest.mark.parametrize("variant", VARIANTS)
def test_security_contexts(helm, variant):
    rendered = helm.template(variant)
    kinds = set()
    for kind, spec in rendered.pod_specs():
        kinds.add(kind)
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        mounts_tmp = False
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
            assert "requests" in container["resources"] and "limits" in container["resources"]
            mounts_tmp = mounts_tmp or any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", []))
        if kind != "Pod":
            assert mounts_tmp, f"{kind} must mount an emptyDir at /tmp"
            tmp = [v for v in spec["volumes"] if v["name"] == "tmp"]
            assert tmp and "emptyDir" in tmp[0]
    assert "Deployment" in kinds
    for account in rendered.of("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_hardening_cannot_be_switched_off(helm):
    for override in ("securityContext.readOnlyRootFilesystem=false", "podSecurityContext.runAsNonRoot=false",
                     "securityContext.allowPrivilegeEscalation=true"):
        with pytest.raises(RenderError):
            helm.template("minimal-values", override)


# MARK: - Availability


@pytest.mark.parametrize("variant", VARIANTS)
def test_rollout_and_disruption(helm, variant):
    rendered = helm.template(variant)
    deployment = rendered.one("Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pdb = rendered.one("PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in constraints} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/config" in annotations


def test_config_checksum_follows_config(helm):
    def checksum(*sets):
        return helm.template("minimal-values", *sets).one("Deployment")["spec"]["template"]["metadata"][
            "annotations"]["checksum/config"]
    assert checksum() == checksum()
    assert checksum() != checksum("config.logLevel=debug")


def test_autoscaler_scales_down_slowly(helm):
    rendered = helm.template(HA)
    assert "replicas" not in rendered.one("Deployment")["spec"], "the HPA owns the replica count"
    behavior = rendered.one("HorizontalPodAutoscaler")["spec"]["behavior"]["scaleDown"]
    assert behavior["stabilizationWindowSeconds"] >= 300
    assert behavior["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]


# MARK: - Selectors and determinism


def test_selectors_are_stable(helm):
    base = helm.template("minimal-values").one("Deployment")["spec"]["selector"]["matchLabels"]
    assert base == {"app.kubernetes.io/name": "charter", "app.kubernetes.io/instance": "charter"}
    for sets in (("image.tag=2.0.0",), ("config.logLevel=debug",), ("replicaCount=5",)):
        rendered = helm.template("minimal-values", *sets)
        assert rendered.one("Deployment")["spec"]["selector"]["matchLabels"] == base
        assert rendered.one("Service")["spec"]["selector"] == base
        labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
        assert base.items() <= labels.items()


@pytest.mark.parametrize("variant", VARIANTS)
def test_two_renders_are_byte_identical(helm, variant):
    first = helm.template_text(variant)
    second = helm.template_text(variant)
    assert hashlib.sha256(first.encode()).hexdigest() == hashlib.sha256(second.encode()).hexdigest()


def test_schema_allows_global(helm):
    helm.template("minimal-values", "global.imageRegistry=registry.example.com")


# MARK: - Proxies and add-ons


def test_ingress_and_httproute_suit_server_sent_events(helm):
    rendered = helm.template(HA)
    annotations = rendered.one("Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    route = rendered.one("HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["rules"][0]["timeouts"] == {"request": "0s", "backendRequest": "0s"}
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == rendered.one("Service")["metadata"]["name"]
    monitor = rendered.one("ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == rendered.one("Service")["spec"]["selector"]
    policy = rendered.one("NetworkPolicy")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_helm_test_pod_checks_readiness_through_the_service(helm):
    pod = helm.template("minimal-values").one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = pod["spec"]["containers"][0]["args"]
    assert args[0] == "healthcheck" and args[2].endswith("/readyz")


# MARK: - Configuration keys


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_chart_env_name_is_a_known_config_key(helm, variant):
    known = known_config_variables()
    rendered = helm.template(variant)
    names = set()
    for _, container in rendered.containers():
        names |= {e["name"] for e in container.get("env", [])}
    for config_map in rendered.of("ConfigMap"):
        names |= set(config_map.get("data", {}))
    assert names, "no environment rendered"
    assert names - known == set(), f"not in docs/operations.md's configuration table: {sorted(names - known)}"


def test_every_compose_env_name_is_a_known_config_key():
    known = known_config_variables()
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    checked = 0
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        names = set(environment) if isinstance(environment, dict) else {e.split("=", 1)[0] for e in environment}
        runs_charter = "build" in service or "charter" in str(service.get("image", ""))
        if runs_charter:
            checked += 1
            assert names - known == set(), f"service {name}: unknown {sorted(names - known)}"
        else:
            assert not {n for n in names if n.startswith("CHARTER_")}, f"service {name} sets CHARTER_* names"
    assert checked >= 2
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    image_env = {word.split("=", 1)[0] for word in dockerfile.replace("\\\n", " ").split() if word.startswith("CHARTER_")}
    assert image_env - known == set()
