#!/usr/bin/env python3
"""Parses a Prometheus text exposition (berthd's GET /metrics) with the reference Python
client's parser (prometheus_client.parser, Debian's python3-prometheus-client) and prints it as
JSON for jq: a list of families, each {"name", "type", "help", "samples": [{"name", "labels",
"value"}]}. The parser names a counter's family without its "_total"; its samples keep it.

Usage: metrics_parse.py FILE

Exits 1 when the parser is missing (the point of the test: never a skip), when the text does
not parse, or when a family has no HELP or TYPE.
"""
import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as error:
    print(f"FAIL: the Prometheus text-format parser is missing ({error}); "
          "scripts/install-deps.sh installs python3-prometheus-client", file=sys.stderr)
    sys.exit(1)


def main(path):
    with open(path, encoding="utf-8") as exposition:
        text = exposition.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and others on malformed text
        print(f"FAIL: {path} does not parse as the Prometheus text format: {error!r}",
              file=sys.stderr)
        return 1
    out = []
    for family in families:
        if family.type == "unknown" or not family.documentation:
            print(f"FAIL: family {family.name} has no TYPE or no HELP", file=sys.stderr)
            return 1
        samples = []
        for sample in family.samples:
            value = sample.value
            if math.isinf(value):
                value = "+Inf" if value > 0 else "-Inf"
            samples.append({"name": sample.name, "labels": sample.labels, "value": value})
        out.append({"name": family.name, "type": family.type, "help": family.documentation,
                    "samples": samples})
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: metrics_parse.py FILE", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
