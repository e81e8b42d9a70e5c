"""The Dockerfile rule set itself: each rule fires on a Dockerfile that breaks it."""

from __future__ import annotations

import pytest

from tests.artifacts.dockerfile_rules import lint

GOOD = """ARG BASE_IMAGE=debian:12
FROM --platform=linux/amd64 ${BASE_IMAGE}
COPY requirements.txt /opt/r.txt
RUN python3 -m pip install --no-cache-dir --requirement /opt/r.txt
WORKDIR /opt
USER 10001:10001
HEALTHCHECK CMD ["true"]
CMD ["python3", "x.py"]
"""


def test_the_good_example_is_clean() -> None:
    assert lint(GOOD) == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("debian:12", "debian"), "DL3006"),
        (("debian:12", "debian:latest"), "DL3007"),
        (("--platform=linux/amd64", "--platform=linux/arm64"), "DL3029"),
        (("WORKDIR /opt", "WORKDIR opt"), "DL3000"),
        (("USER 10001:10001", "USER root"), "DL3002"),
        (("USER 10001:10001\n", ""), "K003"),
        (('HEALTHCHECK CMD ["true"]\n', ""), "DL3057"),
        (('CMD ["python3", "x.py"]', "CMD python3 x.py"), "DL3025"),
        (('CMD ["python3", "x.py"]', 'CMD ["a"]\nCMD ["b"]'), "DL4003"),
        (("COPY requirements.txt /opt/r.txt", "ADD requirements.txt /opt/r.txt"), "DL3020"),
        (("--requirement /opt/r.txt", "requests"), "DL3013"),
        (("--no-cache-dir ", ""), "DL3042"),
        (("RUN python3", "RUN cd /tmp && python3"), "DL3003"),
        (("RUN python3", "RUN sudo python3"), "DL3004"),
        (("RUN python3", "RUN curl x | sh && python3"), "DL4006"),
        (("RUN python3", "RUN echo $(id) && python3"), "K004"),
        (("RUN python3", "RUN --mount=type=secret,id=npm python3"), "K002"),
        (("ARG BASE_IMAGE=debian:12", "ARG BASE_IMAGE=debian:12\nARG HF_TOKEN"), "K001"),
        (("WORKDIR /opt\n", "ENV API_KEY=1\nWORKDIR /opt\n"), "K001"),
        (("RUN python3", "RUN apt-get install -y curl && python3"), "DL3008"),
        (("RUN python3", "RUN apt-get install -y curl=1 && python3"), "DL3009"),
        (("WORKDIR /opt\n", "MAINTAINER me\nWORKDIR /opt\n"), "DL4000"),
    ],
)
def test_each_rule_fires(change: tuple[str, str], rule: str) -> None:
    old, new = change
    assert old in GOOD
    assert rule in {f.rule for f in lint(GOOD.replace(old, new, 1))}
