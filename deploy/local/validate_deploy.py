"""The deployment rules a schema cannot check, over the rendered deploy/k8s variants, the
Dockerfile and docker-compose.yml. Prints each rule broken; exits 1 if any is.
    validate_deploy.py PROJECT_ROOT RENDERED_DIR
"""
import pathlib
import re
import sys

import yaml

root, rendered = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
problems = []
PROGRAMS = {"ingest", "downloader", "resizer", "csv-writer"}


def check(condition, problem):
    if not condition:
        problems.append(problem)


for path in sorted(rendered.glob("*.yaml")):
    objects = [o for o in yaml.safe_load_all(path.read_text()) if o]
    variant = path.stem
    config = next(o["data"] for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "halfsize-config")
    grace = int(config["HALFSIZE_SHUTDOWN_TIMEOUT"]) + 10
    check(config.get("HALFSIZE_STORAGE") == "s3", f"{variant}: stages on several nodes need HALFSIZE_STORAGE=s3")
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    check(PROGRAMS <= deployments.keys(), f"{variant}: a Deployment per program, found {sorted(deployments)}")
    for name in PROGRAMS & deployments.keys():
        pod = deployments[name]["spec"]["template"]["spec"]
        container = next(c for c in pod["containers"] if c["name"] == "halfsize")
        where = f"{variant}/{name}"
        check(container.get("args") == [name], f"{where}: runs {container.get('args')}")
        check(container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"{where}: readiness on /healthz")
        check("livenessProbe" in container, f"{where}: a liveness probe")
        check({"requests", "limits"} <= container.get("resources", {}).keys(), f"{where}: resource requests and limits")
        check(pod.get("terminationGracePeriodSeconds") == grace, f"{where}: grace period {pod.get('terminationGracePeriodSeconds')}, want {grace}")
        check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{where}: runAsNonRoot")
        check(container.get("securityContext", {}).get("allowPrivilegeEscalation") is False, f"{where}: no privilege escalation")
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        check(ports.get("metrics") == 9100 and config["HALFSIZE_METRICS_ADDR"].endswith(":9100"), f"{where}: metrics port 9100")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for name in PROGRAMS:
        check(("PodDisruptionBudget", name) in kinds, f"{variant}: a PodDisruptionBudget for {name}")
    check(("Service", "ingest") in kinds and ("Ingress", "ingest") in kinds, f"{variant}: Service and Ingress for ingest")
    scalers = [o for o in objects if o["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")]
    check(len(scalers) == 1, f"{variant}: one autoscaler for the resizers, found {len(scalers)}")
    for scaler in scalers:
        target = scaler["spec"]["scaleTargetRef"]["name"]
        check(target == "resizer" and target in deployments, f"{variant}: the autoscaler scales {target}")
        if scaler["kind"] == "ScaledObject":
            trigger = scaler["spec"]["triggers"][0]
            check(trigger["type"] == "rabbitmq" and trigger["metadata"]["queueName"] == "halfsize.resize",
                  f"{variant}: KEDA scales on the halfsize.resize queue, not {trigger}")
            auth = next((o for o in objects if o["kind"] == "TriggerAuthentication"
                         and o["metadata"]["name"] == trigger["authenticationRef"]["name"]), None)
            check(auth is not None, f"{variant}: the ScaledObject's TriggerAuthentication exists")

dockerfile = (root / "deploy/docker/Dockerfile").read_text()
check(len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2, "Dockerfile: a build stage and a run stage")
check(re.search(r"^USER (?!root|0\b)\S+", dockerfile, re.M) is not None, "Dockerfile: runs as a non-root user")
check(re.search(r"^HEALTHCHECK .*", dockerfile, re.M) is not None, "Dockerfile: a HEALTHCHECK")

compose = yaml.safe_load((root / "docker-compose.yml").read_text())
for name in PROGRAMS:
    service = compose["services"].get(name, {})
    check("healthcheck" in service, f"docker-compose.yml: {name} has a health check")
    grace = service.get("stop_grace_period", "0s")
    check(int(grace.rstrip("s")) > int(service.get("environment", {}).get("HALFSIZE_SHUTDOWN_TIMEOUT", 30)),
          f"docker-compose.yml: {name}'s stop_grace_period {grace} covers HALFSIZE_SHUTDOWN_TIMEOUT")
    check("container_name" not in service and not (name == "resizer" and service.get("ports")),
          f"docker-compose.yml: {name} can be scaled (no fixed name or host port)")

for problem in problems:
    print(f"FAILED: {problem}")
print(f"deployment rules: {len(problems)} broken")
sys.exit(1 if problems else 0)
