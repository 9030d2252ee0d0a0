#!/usr/bin/env python3
"""Checks compose/ without a Docker engine (none runs on these machines).

  check-compose.py --email-help FILE --web-help FILE

FILEs hold `email-service --help` and `web-service --help`. Checks: the YAML parses; the services
the system needs are there (two email-service replicas); every build context, Dockerfile, target
stage and file the Dockerfile copies exists; every ${VAR} the compose file uses is in .env.example;
every flag a service command passes and every variable a service gets is one its executable
accepts. Exits 1 listing every problem.
"""
import argparse
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
COMPOSE_DIR = os.path.join(HERE, "..", "compose")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--email-help", required=True)
    ap.add_argument("--web-help", required=True)
    a = ap.parse_args()
    problems = []
    checked = []

    path = os.path.join(COMPOSE_DIR, "docker-compose.yml")
    with open(path) as f:
        text = f.read()
    compose = yaml.safe_load(text)
    checked.append("docker-compose.yml parses as YAML")
    services = compose.get("services", {})
    for name in ["rabbitmq", "smtp", "email-service", "web-service"]:
        if name not in services:
            problems.append(f"service {name} is missing")
    replicas = services.get("email-service", {}).get("deploy", {}).get("replicas")
    if replicas != 2:
        problems.append(f"email-service should run 2 replicas, not {replicas}")
    if "management" not in str(services.get("rabbitmq", {}).get("image", "")):
        problems.append("rabbitmq should be an image with the management UI")

    with open(os.path.join(COMPOSE_DIR, ".env.example")) as f:
        defined = {line.split("=", 1)[0].strip() for line in f if "=" in line and not line.startswith("#")}
    used = set(re.findall(r"\$\{([A-Z0-9_]+)[^}]*\}", text))
    for var in sorted(used - defined):
        problems.append(f"${{{var}}} is used in docker-compose.yml but not defined in .env.example")
    checked.append(f"{len(used)} variables used, all in .env.example" if used <= defined else "variables")

    helps = {"email-service": open(a.email_help).read(), "web-service": open(a.web_help).read()}
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = os.path.normpath(os.path.join(COMPOSE_DIR, build.get("context", ".")))
            if not os.path.isdir(context):
                problems.append(f"{name}: build context {context} does not exist")
                continue
            dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                problems.append(f"{name}: {dockerfile} does not exist")
                continue
            with open(dockerfile) as f:
                docker = f.read()
            stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", docker, re.M | re.I))
            if build.get("target") and build["target"] not in stages:
                problems.append(f"{name}: target {build['target']} is not a stage of {dockerfile}")
            for source in re.findall(r"^COPY\s+(?!--from)(.+?)\s+\S+$", docker, re.M):
                for item in source.split():
                    if not os.path.exists(os.path.join(context, item)):
                        problems.append(f"{name}: the Dockerfile copies {item}, missing from the context")
            checked.append(f"{name}: context, Dockerfile, target and copied files exist")
        if name in helps:
            accepted_flags = set(re.findall(r"^\s+(--[a-z0-9-]+)", helps[name], re.M))
            accepted_vars = set(re.findall(r"\$([A-Z0-9_]+)", helps[name]))
            command = service.get("command", [])
            if isinstance(command, str):
                command = command.split()
            for token in command:
                if str(token).startswith("--") and str(token).split("=")[0] not in accepted_flags:
                    problems.append(f"{name}: command passes {token}, which {name} does not accept")
            for var in (service.get("environment") or {}):
                if var not in accepted_vars:
                    problems.append(f"{name}: environment sets {var}, which {name} does not read")
            checked.append(f"{name}: {len(command)} command words and {len(service.get('environment') or {})} variables match --help")

    for line in checked:
        print("ok:", line)
    for line in problems:
        print("problem:", line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
