"""Text the database cannot store: PostgreSQL refuses NUL (``\\u0000``) in text and JSON, and UTF-8
cannot encode a lone surrogate; ``json.loads`` makes both from escapes that are valid JSON. Found here,
before a schema or an INSERT meets them (there, either was a DataError or a UnicodeEncodeError: a 500)."""


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
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def bad_text(text):
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
