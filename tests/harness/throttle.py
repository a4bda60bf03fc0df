"""A TCP proxy that slows responses down, so a test can act in the middle of a transfer
(kill ctld or the client while a layer is still downloading)."""
import socket
import threading
import time


class ThrottleProxy:
    """Listens on 127.0.0.1:<.port> and forwards to `target` (host, port), sending at most
    `rate` bytes per second back to the client. `.bytes_down` counts what was relayed."""

    def __init__(self, target, rate=256 * 1024):
        self.target = target
        self.rate = rate
        self.bytes_down = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self.closed = False
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src, dst, slow):
        try:
            while True:
                data = src.recv(16 * 1024 if slow else 64 * 1024)
                if not data:
                    break
                dst.sendall(data)
                if slow:
                    self.bytes_down += len(data)
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.listener.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
