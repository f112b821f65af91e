"""Export files at rest: AES-256-GCM in chunks, so that files of any size are encrypted and decrypted
with flat memory, and any change, reordering or truncation of the stored bytes is detected.

Layout of an encrypted file::

    b"JDX1" | key id length (1 byte) | key id | nonce prefix (8 random bytes)
    then chunks: ciphertext length (4 bytes, big-endian) | ciphertext (with its 16-byte tag)

Chunk ``i`` uses the nonce ``prefix + i`` (4 bytes, big-endian) and authenticates, beside its bytes,
the header, ``i`` and whether it is the last chunk. A file must end with a chunk marked last.

Keys come from ``EXPORTS_ENCRYPTION_KEYS`` (``id:base64key,id:base64key``; 32-byte keys). The first
encrypts; all decrypt. To rotate: put a new key first, keep the old ones until the files they encrypted
have expired (``EXPORTS_RETENTION_DAYS``), then drop them.
"""

import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

MAGIC = b"JDX1"
CHUNK = 64 * 1024
TAG = 16


class DecryptionError(Exception):
    """The stored bytes are not an intact export encrypted with a known key."""


def _keys():
    return settings.EXPORTS_ENCRYPTION_KEYS


def current_key_id():
    return next(iter(_keys()))


def _aad(header, index, last):
    return header + struct.pack(">I?", index, last)


class EncryptingWriter:
    """A write-only binary file object that encrypts what is written into ``raw`` (another file)."""

    def __init__(self, raw, key_id=None):
        self.raw = raw
        self.key_id = key_id or current_key_id()
        self._aead = AESGCM(_keys()[self.key_id])
        key_id = self.key_id.encode()
        self._prefix = os.urandom(8)
        self._header = MAGIC + bytes([len(key_id)]) + key_id + self._prefix
        raw.write(self._header)
        self._buffer = bytearray()
        self._index = 0
        self._written = 0
        self.closed = False

    def writable(self):
        return True

    def seekable(self):
        return False

    def tell(self):
        return self._written

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        self._buffer += data
        self._written += len(data)
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def flush(self):
        pass

    def _seal(self, plaintext, last):
        nonce = self._prefix + struct.pack(">I", self._index)
        sealed = self._aead.encrypt(nonce, plaintext, _aad(self._header, self._index, last))
        self.raw.write(struct.pack(">I", len(sealed)) + sealed)
        self._index += 1

    def close(self):
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True


def decrypt_chunks(raw):
    """Yield the plaintext of the encrypted file object ``raw``, chunk by chunk; ``DecryptionError`` on
    any tampering, truncation or unknown key (after which nothing more is yielded)."""
    if raw.read(4) != MAGIC:
        raise DecryptionError("not an encrypted export")
    size = raw.read(1)
    key_id = raw.read(size[0]).decode(errors="replace") if size else ""
    prefix = raw.read(8)
    if key_id not in _keys() or len(prefix) != 8:
        raise DecryptionError("unknown encryption key or damaged header")
    header = MAGIC + size + key_id.encode() + prefix
    aead = AESGCM(_keys()[key_id])
    index = 0
    length = raw.read(4)
    while length:
        if len(length) != 4:
            raise DecryptionError("truncated chunk header")
        sealed = raw.read(struct.unpack(">I", length)[0])
        following = raw.read(4)
        last = not following
        try:
            yield aead.decrypt(prefix + struct.pack(">I", index), sealed, _aad(header, index, last))
        except Exception as exc:  # InvalidTag: altered, reordered or cut short
            raise DecryptionError("the export file was altered or cut short") from exc
        index, length = index + 1, following
    if index == 0:
        raise DecryptionError("the export file is empty")
