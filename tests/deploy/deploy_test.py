"""Checks docker-compose.yml and the Dockerfile without a Docker engine.

Usage: deploy_test.py REPO_ROOT TALLY_BINARY

What it can check here: the files' structure, that they agree with the variables tally reads
(`tally serve --help`, docs/configuration.md), with `tally produce --help`, with the CMake
options and with the Debian packages of this (bookworm) machine, and that the
image's runtime packages hold every shared library the built binary loads. What
it cannot: that the images build, that Kafka starts, that tally consumes in a
container. With the `docker compose` plugin on PATH it also runs
`docker compose config -q` (the engine is not needed for that).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

import yaml

ROOT, TALLY = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
failures = []
passed = 0


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what)


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


# --- The environment variables tally reads ------------------------------------

def serve_variables():
    """The TALLY_* variables `tally serve --help` names (CLI11 prints each flag's
    variable), each also documented in docs/configuration.md's table."""
    helptext = subprocess.run([TALLY, "serve", "--help"], capture_output=True, text=True).stdout
    names = set(re.findall(r"\bTALLY_[A-Z0-9_]+", helptext))
    check(len(names) > 0, "`tally serve --help` names TALLY_* variables")
    docs = open(os.path.join(ROOT, "docs", "configuration.md"), encoding="utf-8").read()
    for name in sorted(names):
        check(f"`{name}`" in docs, f"{name} (tally serve --help) is documented in docs/configuration.md")
    return names


SERVE_VARS = serve_variables()


# --- docker-compose.yml ---------------------------------------------------------

compose_text = open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8").read()
compose = yaml.safe_load(compose_text)
services = compose.get("services", {})


def env(service):
    """A service's environment as a dict, from either of compose's two forms."""
    e = service.get("environment") or {}
    if isinstance(e, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in e)
    return {k: (None if v is None else str(v)) for k, v in e.items()}


def depends_on(service, name, condition):
    d = service.get("depends_on") or {}
    return isinstance(d, dict) and (d.get(name) or {}).get("condition") == condition


def healthcheck_test(service):
    """The healthcheck command as one string; empty when missing or disabled."""
    h = service.get("healthcheck") or {}
    t = h.get("test") or []
    if h.get("disable") or t == ["NONE"]:
        return ""
    return t if isinstance(t, str) else " ".join(t[1:])


for name in ("kafka", "tally", "producer"):
    check(name in services, f"compose has a service '{name}'")
kafka = services.get("kafka", {})
tally = services.get("tally", {})
producer = services.get("producer", {})

# Kafka: the official image, one KRaft node, nothing of ZooKeeper.
kenv = env(kafka)
check(str(kafka.get("image", "")).startswith("apache/kafka:"),
      "kafka uses an apache/kafka:TAG image")
roles = {r.strip() for r in (kenv.get("KAFKA_PROCESS_ROLES") or "").split(",")}
check({"broker", "controller"} <= roles, "kafka's KAFKA_PROCESS_ROLES has broker and controller")
check(bool(kenv.get("KAFKA_NODE_ID")), "kafka sets KAFKA_NODE_ID")
check(bool(kenv.get("KAFKA_CONTROLLER_QUORUM_VOTERS")), "kafka sets KAFKA_CONTROLLER_QUORUM_VOTERS")
check(kenv.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") == "1",
      "kafka's offsets topic has replication factor 1 (one node)")
check(not any("zookeeper" in (n + str(s.get("image", ""))).lower() or
               any("ZOOKEEPER" in k for k in env(s)) for n, s in services.items()),
      "no ZooKeeper service or setting")
# kafka-storage format takes only a UUID as base64url: 22 characters, the last
# carrying 2 bits of data and 4 zero bits, so one of A, Q, g, w.
if "CLUSTER_ID" in kenv:
    check(re.fullmatch(r"[A-Za-z0-9_-]{21}[AQgw]", kenv["CLUSTER_ID"] or "") is not None,
          "kafka's CLUSTER_ID is a base64url UUID (22 characters)")
advertised = kenv.get("KAFKA_ADVERTISED_LISTENERS") or ""
check("kafka" in healthcheck_test(kafka), "kafka has a healthcheck that runs a Kafka tool")

# tally: only the contract's variables, a /healthz healthcheck, waits for Kafka.
for where in sorted(set(re.findall(r"\bTALLY_[A-Z0-9_]+", compose_text))):
    check(where in SERVE_VARS, f"{where} (in docker-compose.yml) is a variable tally serve reads")
tenv = env(tally)
check("/healthz" in healthcheck_test(tally), "tally's healthcheck requests /healthz")
for name, service in (("tally", tally), ("producer", producer)):
    check(depends_on(service, "kafka", "service_healthy"),
          f"{name} depends on kafka with condition service_healthy")
check("/data" in " ".join(str(v) for v in tally.get("volumes") or []),
      "tally keeps its store (/data) in a volume")

# Replicas behind nginx: tally and tally-b, each its own group and store, and
# nginx (deploy/nginx.conf) in front of both on port 8080.
tally_b = services.get("tally-b", {})
nginx_service = services.get("nginx", {})
check("tally-b" in services and "nginx" in services, "compose has the services 'tally-b' and 'nginx'")
check(tally_b.get("image") == tally.get("image"), "tally-b runs tally's image")
check(env(tally_b).get("TALLY_GROUP") not in (None, env(tally).get("TALLY_GROUP")),
      "tally-b reads in a consumer group of its own")
check(env(tally_b).get("TALLY_TOPIC") == env(tally).get("TALLY_TOPIC")
      and env(tally_b).get("TALLY_BROKERS") == env(tally).get("TALLY_BROKERS"),
      "tally-b reads the same topic of the same brokers as tally")
check("/data" in " ".join(str(v) for v in tally_b.get("volumes") or [])
      and set(tally_b.get("volumes") or []).isdisjoint(tally.get("volumes") or []),
      "tally-b keeps a store of its own")
check("/healthz" in healthcheck_test(tally_b), "tally-b's healthcheck requests /healthz")
check(str(nginx_service.get("image", "")).startswith("nginx:"), "nginx uses an nginx:TAG image")
check(any(str(p).endswith(":8080") for p in nginx_service.get("ports") or []), "nginx publishes port 8080")
check(all(depends_on(nginx_service, n, "service_healthy") for n in ("tally", "tally-b")),
      "nginx waits for both replicas to be healthy")
nginx_conf_path = os.path.join(ROOT, "deploy", "nginx.conf")
check(any(str(v).startswith("./deploy/nginx.conf:") for v in nginx_service.get("volumes") or []),
      "nginx mounts deploy/nginx.conf")
nginx_conf = open(nginx_conf_path, encoding="utf-8").read() if os.path.exists(nginx_conf_path) else ""
upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", nginx_conf, re.M)
check(sorted(h for h, _ in upstreams) == ["tally", "tally-b"] and all(p == "8080" for _, p in upstreams),
      f"deploy/nginx.conf's upstream is tally:8080 and tally-b:8080 (has {upstreams})")
check(re.search(r"^\s*listen\s+8080;", nginx_conf, re.M) is not None, "deploy/nginx.conf listens on 8080")
# nginx -t: the compose names resolve only inside compose, so the check runs on a
# copy that points them at loopback, on a free port, with its files in a temp dir.
nginx_binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
if nginx_binary:
    import socket
    import tempfile
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        conf = re.sub(r"\bserver\s+[\w.-]+:8080\b", "server 127.0.0.1:8080", nginx_conf)
        conf = re.sub(r"listen\s+8080;", f"listen 127.0.0.1:{port};", conf)
        with open(os.path.join(tmp, "nginx.conf"), "w", encoding="utf-8") as f:
            f.write(conf)
        r = subprocess.run([nginx_binary, "-t", "-c", os.path.join(tmp, "nginx.conf"), "-p", tmp,
                            "-g", f"pid {tmp}/nginx.pid; error_log {tmp}/error.log;"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"nginx -t accepts deploy/nginx.conf: {r.stderr.strip()}")
else:
    print("note: no nginx here; deploy/nginx.conf not checked with nginx -t (scripts/setup installs it)")
brokers = tenv.get("TALLY_BROKERS") or ""
check(brokers != "" and all(f"//{b}" in advertised for b in brokers.split(",")),
      f"TALLY_BROKERS ({brokers}) is a listener kafka advertises ({advertised})")
# Every service waited for until it completes must be a one-shot.
for name, service in services.items():
    deps = service.get("depends_on") or {}
    for dep, how in (deps.items() if isinstance(deps, dict) else []):
        if isinstance(how, dict) and how.get("condition") == "service_completed_successfully":
            check(services.get(dep, {}).get("restart") == "no", f"{dep}, which {name} waits for, is one-shot")

# Monitoring: Prometheus (deploy/prometheus) scraping every tally replica, and
# Grafana provisioned with it and the dashboard (deploy/grafana). The dashboard and
# the alert rules themselves are checked by monitoring_test.py.
prometheus = services.get("prometheus", {})
grafana = services.get("grafana", {})
check(re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", str(prometheus.get("image", ""))) is not None,
      "prometheus uses the official prom/prometheus image at a pinned version")
check(re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", str(grafana.get("image", ""))) is not None,
      "grafana uses the official grafana/grafana image at a pinned version")


def bind_mounts(service):
    """(host path relative to the repository, container path) of each ./ volume."""
    mounts = []
    for v in service.get("volumes") or []:
        parts = str(v).split(":")
        if parts[0].startswith("./"):
            mounts.append((os.path.normpath(parts[0]), parts[1] if len(parts) > 1 else ""))
    return mounts


for name, service in services.items():
    for host, _ in bind_mounts(service):
        check(os.path.exists(os.path.join(ROOT, host)), f"{name} mounts {host}, which exists")
prom_mounts = dict(bind_mounts(prometheus))
check(prom_mounts.get("deploy/prometheus/prometheus.yml") == "/etc/prometheus/prometheus.yml",
      "prometheus mounts deploy/prometheus/prometheus.yml where the image reads its configuration")
prom_path = os.path.join(ROOT, "deploy", "prometheus", "prometheus.yml")
prom_conf = yaml.safe_load(open(prom_path, encoding="utf-8")) if os.path.exists(prom_path) else {}
# Rule files are named relative to the configuration, so each must be mounted beside it.
for rule_file in prom_conf.get("rule_files") or []:
    check(prom_mounts.get(os.path.normpath(os.path.join("deploy/prometheus", rule_file)))
          == os.path.normpath(os.path.join("/etc/prometheus", rule_file)),
          f"prometheus mounts its rule file {rule_file} beside its configuration")
targets = sorted(t for job in prom_conf.get("scrape_configs") or [] for sc in job.get("static_configs") or []
                 for t in sc.get("targets") or [])
replicas = sorted(f"{n}:8080" for n, svc in services.items()
                  if svc.get("image") == tally.get("image") and n != "producer")
check(targets == replicas, f"prometheus scrapes every tally replica on 8080: {targets} == {replicas}")
promtool = shutil.which("promtool") or ("/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)
if promtool:
    r = subprocess.run([promtool, "check", "config", "prometheus.yml"], capture_output=True, text=True,
                       cwd=os.path.dirname(prom_path))
    check(r.returncode == 0, f"promtool check config accepts deploy/prometheus/prometheus.yml: {r.stdout} {r.stderr}")
else:
    check(False, "promtool is installed (scripts/setup: Debian package prometheus)")

grafana_mounts = dict(bind_mounts(grafana))
provisioning = os.path.join(ROOT, "deploy", "grafana", "provisioning")
for kind in ("datasources", "dashboards"):
    check(grafana_mounts.get(f"deploy/grafana/provisioning/{kind}") == f"/etc/grafana/provisioning/{kind}",
          f"grafana mounts deploy/grafana/provisioning/{kind} where Grafana reads it")


def provisioning_files(kind):
    folder = os.path.join(provisioning, kind)
    names = sorted(f for f in os.listdir(folder) if f.endswith((".yml", ".yaml"))) if os.path.isdir(folder) else []
    return [yaml.safe_load(open(os.path.join(folder, f), encoding="utf-8")) for f in names]


datasources = [d for f in provisioning_files("datasources") for d in f.get("datasources") or []]
check(any(d.get("type") == "prometheus" and d.get("url") == "http://prometheus:9090" and d.get("isDefault")
          for d in datasources), "Grafana's default datasource is the prometheus service (http://prometheus:9090)")
providers = [p for f in provisioning_files("dashboards") for p in f.get("providers") or []]
dashboard_dirs = {(p.get("options") or {}).get("path") for p in providers if p.get("type") == "file"}
check(os.path.dirname(grafana_mounts.get("deploy/grafana/tally.json", "")) in dashboard_dirs,
      f"grafana mounts deploy/grafana/tally.json into a provisioned dashboards folder {sorted(map(str, dashboard_dirs))}")
check(depends_on(grafana, "prometheus", "service_started"), "grafana starts after prometheus")
for name, service in (("prometheus", prometheus), ("grafana", grafana)):
    check(all(str(p).startswith("127.0.0.1:") for p in service.get("ports") or []),
          f"{name} publishes its port on loopback only")

# producer: a one-shot `tally produce` with flags the binary knows, into tally's topic.
command = producer.get("command") or []
command = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
check(producer.get("restart") == "no", "producer has restart: \"no\"")
check(producer.get("image", "?") == tally.get("image") or producer.get("build") == tally.get("build"),
      "producer runs tally's image")
check(command[:1] == ["produce"], "producer's command is `produce ...`")
flags = {c.split("=", 1)[0] for c in command if c.startswith("--")}
check("--brokers" in flags, "producer passes --brokers")


def value_of(flag):
    return next((command[i + 1] for i, c in enumerate(command[:-1]) if c == flag), None)


check(value_of("--brokers") is not None and f"//{value_of('--brokers')}" in advertised,
      "producer's --brokers is a listener kafka advertises")
check((value_of("--topic") or "task-actions") == (tenv.get("TALLY_TOPIC") or "task-actions"),
      "producer writes the topic tally reads")

# The flags `tally produce --help` lists. Until `produce` is in the binary (CLI11
# then prints the top-level help, whose usage line lacks "produce"), the flags the
# subcommand is being written with stand in.
help_run = run(TALLY, "produce", "--help")
usage = next((l for l in help_run.stdout.splitlines() if l.startswith("Usage:")), "")
check(help_run.returncode == 0 and " produce" in usage, "`tally produce --help` describes produce")
known = set(re.findall(r"--[a-z][a-z0-9-]*", help_run.stdout))
for flag in sorted(flags):
    check(flag in known, f"producer's {flag} is a flag of `tally produce`")


# --- Dockerfile -----------------------------------------------------------------

lines = open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8").read()
lines = re.sub(r"\\\n", " ", lines)  # join continued lines
instructions = [l.strip() for l in lines.splitlines() if l.strip() and not l.strip().startswith("#")]
stages = []  # one list of (INSTRUCTION, arguments) per FROM
for ins in instructions:
    word, _, rest = ins.partition(" ")
    if word.upper() == "FROM":
        stages.append([])
    if stages:
        stages[-1].append((word.upper(), rest.strip()))
froms = [s[0][1] for s in stages]
check(len(stages) == 2 and all(re.fullmatch(r"debian:bookworm-slim( AS \w+)?", f, re.I) for f in froms),
      f"the Dockerfile has two FROM debian:bookworm-slim stages (has {froms})")
final = stages[-1] if stages else []


def args(stage, word):
    return [rest for w, rest in stage if w == word]


users = args(final, "USER")
check(bool(users) and users[-1].split(":")[0] not in ("root", "0"), "the image runs as a USER that is not root")
check(any("/data" in v for v in args(final, "VOLUME")), "the image declares VOLUME /data")
check(any("/healthz" in h for h in args(final, "HEALTHCHECK")), "the image's HEALTHCHECK requests /healthz")
check(args(final, "ENTRYPOINT") == ['["tally"]'], 'ENTRYPOINT ["tally"]')
check(args(final, "CMD") == ['["serve"]'], 'CMD ["serve"]')
check(any("8080" in e for e in args(final, "EXPOSE")), "EXPOSE 8080")
image_env = " ".join(args(final, "ENV"))
check("TALLY_DATA_DIR=/data" in image_env and "TALLY_LISTEN=0.0.0.0:8080" in image_env,
      "the image sets TALLY_DATA_DIR=/data and TALLY_LISTEN=0.0.0.0:8080")
for var in sorted(set(re.findall(r"\bTALLY_[A-Z0-9_]+(?==)", image_env))):
    check(var in SERVE_VARS, f"{var} (Dockerfile ENV) is a variable tally serve reads")
build_runs = " ".join(args(stages[0], "RUN")) if stages else ""
cmake_lists = open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8").read()
check("-DTALLY_TESTS=OFF" in build_runs and "option(TALLY_TESTS" in cmake_lists,
      "the image build turns off TALLY_TESTS, an option of CMakeLists.txt")
check(re.search(r"ninja .*\btally\b", build_runs) is not None, "the image build builds the tally target")

# The portable build: no -march unless asked for with TALLY_ARCH, empty by default,
# in CMake, in the image, and in the build that made TALLY.
check(re.search(r'^set\(TALLY_ARCH ""', cmake_lists, re.M) is not None,
      "CMakeLists.txt's TALLY_ARCH defaults to empty (the generic target)")
check(set(re.findall(r"-march=\S*", re.sub(r"#.*", "", cmake_lists))) <= {"-march=${TALLY_ARCH})"},
      "CMakeLists.txt passes -march only from TALLY_ARCH")
arch_args = [rest for rest in args(stages[0], "ARG") if rest.split("=")[0] == "TALLY_ARCH"] if stages else []
check(arch_args in ([], ["TALLY_ARCH"], ["TALLY_ARCH="]), f"the image's TALLY_ARCH defaults to empty (has {arch_args})")
build_dir = os.path.dirname(TALLY)
cache_path, commands_path = (os.path.join(build_dir, f) for f in ("CMakeCache.txt", "compile_commands.json"))
if os.path.exists(cache_path) and os.path.exists(commands_path):
    arch = re.search(r"^TALLY_ARCH:STRING=(.*)$", open(cache_path, encoding="utf-8").read(), re.M)
    if arch and not arch.group(1):
        check("-march" not in open(commands_path, encoding="utf-8").read(),
              "a build configured with the default TALLY_ARCH compiles with no -march")


def apt_packages(stage):
    """The packages a stage's `apt-get install` lines name, with the lists it reads
    from scripts/setup (`$(... setup --list NAME)`) expanded."""
    packages = []
    for run_args in args(stage, "RUN"):
        for m in re.finditer(r"apt-get install ([^&;|]*)", run_args):
            text = re.sub(r"\$\([^)]*setup --list (\w+)\)",
                          lambda l: run("scripts/setup", "--list", l.group(1)).stdout, m.group(1))
            packages += [w for w in text.split() if not w.startswith("-")]
    return packages


build_packages, runtime_packages = (apt_packages(stages[0]), apt_packages(final)) if stages else ([], [])
check(len(build_packages) > 0 and len(runtime_packages) > 0, "both stages install packages")
check("curl" in runtime_packages, "the image has curl for its HEALTHCHECK")
if shutil.which("dpkg-query"):
    # This machine is Debian bookworm and scripts/setup installed all of these, so
    # a name it does not know is not a bookworm package.
    for p in sorted(set(build_packages + runtime_packages)):
        status = run("dpkg-query", "-W", "-f=${Status}", p).stdout
        check("install ok installed" in status, f"Debian package {p} (Dockerfile) is installed here")
    # Each shared library tally loads comes from a runtime package or the base image.
    base_image = {"libc6", "libgcc-s1", "libstdc++6"}
    for lib in re.findall(r"=> (/\S+)", run("ldd", TALLY).stdout):
        owner = run("dpkg-query", "-S", os.path.realpath(lib)).stdout or run("dpkg-query", "-S", lib).stdout
        package = owner.split(":")[0]
        check(package in set(runtime_packages) | base_image,
              f"{lib} (loaded by tally) is from a package the image installs: {package or '?'}")
else:
    print("note: no dpkg-query here; package names and libraries not checked")


# --- docker compose config ------------------------------------------------------

if shutil.which("docker") and run("docker", "compose", "version").returncode == 0:
    r = run("docker", "compose", "config", "-q")
    check(r.returncode == 0, f"docker compose config -q accepts the file: {r.stderr.strip()}")
else:
    print("note: skipped `docker compose config -q` (no docker compose plugin here)")

print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
