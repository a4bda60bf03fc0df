"""HTTP/1.1 at the byte level over a unix (or TCP) socket.

The tests use this where http.client would hide what the daemon does: garbage input, keep-alive
(http.client silently reconnects), pipelining, chunked framing, responses to half-sent bodies.
`RawConnection.read_response()` parses strictly and keeps the bytes it saw, so an assertion can
show exactly what came back.
"""
import socket
import time


class ProtocolError(AssertionError):
    """The daemon sent something that is not valid HTTP/1.1."""


class Response:
    def __init__(self, status, reason, header_list, body, raw, chunked, chunks):
        self.status = status
        self.reason = reason
        self.header_list = header_list          # [(name, value)] in wire order, names as sent
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body                        # decoded body (chunked framing removed)
        self.raw = raw                          # every byte of this response as received
        self.chunked = chunked
        self.chunks = chunks                    # chunk payloads of a chunked body, in order

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def closes(self):
        return "close" in self.header("connection", "").lower()

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:600]!r}>"


class RawConnection:
    """One client connection. `buffer` keeps bytes read past the current response (pipelining)."""

    def __init__(self, path=None, tcp=None, timeout=10):
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        else:
            self.sock = socket.create_connection(tcp, timeout=timeout)
        self.buffer = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """Sends all of data; returns False if the daemon closed or reset the connection meanwhile."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def request(self, method, path, headers=None, body=None, version="HTTP/1.1"):
        head = f"{method} {path} {version}\r\nHost: ctld\r\n"
        hdrs = dict(headers or {})
        if body is not None and not any(k.lower() in ("content-length", "transfer-encoding") for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            head += f"{k}: {v}\r\n"
        return self.send(head.encode("latin-1") + b"\r\n" + (body or b""))

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def _read_until(self, marker, what):
        while marker not in self.buffer:
            if not self._fill():
                raise ProtocolError(f"connection closed before {what}; got {self.buffer[:600]!r}")
        i = self.buffer.index(marker) + len(marker)
        out, self.buffer = self.buffer[:i], self.buffer[i:]
        return out

    def _read_exact(self, n, what):
        while len(self.buffer) < n:
            if not self._fill():
                raise ProtocolError(f"connection closed in {what}: wanted {n} bytes, have {len(self.buffer)}")
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_until_close(self):
        """Everything the daemon still sends until it closes (or the socket timeout passes)."""
        try:
            while self._fill():
                pass
        except socket.timeout:
            pass
        out, self.buffer = self.buffer, b""
        return out

    def read_head(self):
        """Reads a status line and headers only: (status, reason, [(name, value)], raw bytes)."""
        raw = self._read_until(b"\r\n\r\n", "the end of the response headers")
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {lines[0]!r}")
        header_list = []
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise ProtocolError(f"bad header line {line!r}")
            header_list.append((name, value.strip()))
        return int(parts[1]), (parts[2] if len(parts) > 2 else ""), header_list, raw

    def read_response(self, method="GET"):
        """Reads one whole response, checking its framing."""
        status, reason, header_list, raw = self.read_head()
        return self.read_body(status, reason, header_list, raw, method)

    def read_body(self, status, reason, header_list, raw=b"", method="GET"):
        """Reads the body that belongs to a head read with read_head()."""
        headers = {k.lower(): v for k, v in header_list}
        chunks = []
        te = headers.get("transfer-encoding", "").lower()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif te:
            if te != "chunked":
                raise ProtocolError(f"unexpected Transfer-Encoding {te!r}")
            if "content-length" in headers:
                raise ProtocolError("both Content-Length and Transfer-Encoding")
            body = b""
            while True:
                size_line = self._read_until(b"\r\n", "a chunk size line")
                raw += size_line
                size_text = size_line[:-2].split(b";")[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size line {size_line!r}")
                if size == 0:
                    # Trailers (none expected) end with an empty line.
                    trailer = self._read_until(b"\r\n", "the end of the chunked body")
                    raw += trailer
                    while trailer != b"\r\n":
                        trailer = self._read_until(b"\r\n", "the end of the trailers")
                        raw += trailer
                    break
                data = self._read_exact(size + 2, "a chunk")
                raw += data
                if data[-2:] != b"\r\n":
                    raise ProtocolError(f"chunk not followed by CRLF: {data[-10:]!r}")
                chunks.append(data[:-2])
                body += data[:-2]
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]), "the response body")
            raw += body
        else:
            # No framing: the body ends when the connection does.
            body = self.read_until_close()
            raw += body
        return Response(status, reason, header_list, body, raw, bool(te), chunks)

    def is_closed(self, wait=2.0):
        """True if the daemon closes the connection (EOF) within `wait` seconds; bytes it sends
        meanwhile stay in .buffer."""
        old = self.sock.gettimeout()
        deadline = time.monotonic() + wait
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                if not self._fill():
                    return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(old)


def exchange(path, payload, timeout=10):
    """Sends payload on a fresh connection and returns everything the daemon sends back until it
    closes the connection or goes quiet for `timeout` seconds."""
    with RawConnection(path, timeout=timeout) as c:
        c.send(payload)
        return c.read_until_close()


def chunked(body, size=4096):
    """Encodes body with chunked transfer coding."""
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"
