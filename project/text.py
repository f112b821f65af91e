"""Text the database cannot store: PostgreSQL refuses NUL (``\\u0000``) in text and JSON, and UTF-8
cannot encode a lone surrogate; ``json.loads`` makes both from escapes that are valid JSON. Found here,
before a schema or an INSERT meets them (there, either was a DataError or a UnicodeEncodeError: a 500)."""

import re

# In a Python string a surrogate code point is always a lone half (a pair is one code point above U+FFFF).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value, path):
    """The path (``path``, then ``.key`` or ``.index`` per level) of the first string, key or value, the
    database cannot store; None if every string can be stored."""
    if isinstance(value, str):
        return path if bad_text(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and bad_text(key):
                return path
            found = unstorable_text(item, f"{path}.{key}" if path else str(key))
            if found is not None:  # "" is a path too: the value of an empty key at the top
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def bad_text(text):
    return _UNSTORABLE.search(text) is not None


def unstorable_message(field):
    """What a refusal of ``unstorable_text``'s find says, naming the field ("" is the whole body)."""
    return f"{field or 'body'}: text may not contain NUL characters (\\u0000) or unpaired surrogates"


def storable(value):
    """``value`` with every string (key or value, at any depth of dicts and lists) made storable: a NUL
    and a lone surrogate half become U+FFFD. For what a job's own code hands the ledger (its result, its
    error), which must be written whatever it holds; other values are left as they are."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(storable(item) for item in value)
    return value
