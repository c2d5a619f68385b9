"""An HTTP proxy on loopback that hands a server one request at a time.

    python3 serial-proxy.py LISTEN_PORT TARGET_PORT

scripts/oidc-provider puts it in front of glewlwyd: glewlwyd shares one database connection between its request
threads, and requests at once (two token exchanges, a sign-in and an exchange) read each other's last inserted
row id and fail ("Error executing sql query"). Each request here is a connection of its own (HTTP/1.0, closed
after the answer). Connections are accepted and read at once, each on a thread of its own, so a client that is
slow to send its request holds up nobody; only the round trips to glewlwyd take turns. Redirects and cookies
pass through untouched.
"""

import http.client
import http.server
import sys
import threading

# One request at a time upstream.
UPSTREAM = threading.Lock()

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    # A client that stalls mid-request is dropped after this (it holds only its own thread).
    timeout = 15
    target_port = 0

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=30)
        try:
            with UPSTREAM:
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                content = answer.read()
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(content)
        except OSError as error:
            self.send_error(502, f"glewlwyd did not answer: {error}")
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = forward

    def log_message(self, format, *args):
        pass


def main():
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    Handler.target_port = target_port
    server = http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
