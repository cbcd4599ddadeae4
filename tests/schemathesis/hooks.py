"""Schemathesis hooks for deskprov's API test (tests/it/schemathesis.rs).

deskprov reads an integer only as an integer literal: `5`, never `5.0` (a 400 naming the field,
as docs/api.md says). JSON Schema counts `5.0` as an integer, so schemathesis also spells the
integers it generates for JSON bodies as whole floats; this hook writes them back as the plain
integers they stand for. It changes no value: fractions (`5.5`), out-of-range numbers and
wrong types stay as generated, and the server must still refuse them.
"""

import schemathesis


def _plain_integers(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain_integers(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain_integers(item) for key, item in value.items()}
    return value


@schemathesis.hook
def map_body(context, body):
    return _plain_integers(body)
