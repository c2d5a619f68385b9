"""Hostile peers for the outbound tests: a TCP server on 127.0.0.1 that misbehaves in one way.

usage: hostile_peer.py MODE DIRECTORY

Writes its port to DIRECTORY/port once it listens, and appends one JSON line per event to DIRECTORY/log:
{"event": "request", "path": ...} for each HTTP request, {"event": "closed", "received": n, "sent": n} when a
connection ends. Modes:

  http-ok         answers every request 204
  http-banner     answers 500 with a body that names the server (the tenant must not see it)
  http-redirect   answers 302 to /followed on itself (a client that follows would request it)
  http-stall      answers 200 with chunked headers and one chunk, then sends nothing more
  http-trickle    answers 200 with chunked headers, then one byte every 100 ms, forever
  http-flood      answers 200 with chunked headers, then 64 KiB chunks as fast as the client reads
  ldap-silent     reads LDAP requests and never answers (a bind that is never answered)
  ldap-malformed  answers the bind with a message that is not valid BER
  ldap-huge       accepts the bind, then answers every search with one entry holding a 10 MB value
  ldap-slow       accepts the bind, then answers every search with one small entry every 300 ms, never done
"""

import asyncio
import json
import os
import signal
import sys

# A child of the test process inherits its blocked signals; the tests stop the peer with SIGTERM.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])

MODE = sys.argv[1]
DIRECTORY = sys.argv[2]
BANNER = b"Internal Server Error - acme-internal-gateway 10.9.8.7 build 4711 SECRET-BANNER"


def log(event):
    with open(os.path.join(DIRECTORY, "log"), "a") as file:
        file.write(json.dumps(event) + "\n")


def ber_length(length):
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def tlv(tag, content):
    return bytes([tag]) + ber_length(len(content)) + content


def ldap_result(tag, message_id, code=0):
    body = tlv(0x0A, bytes([code])) + tlv(0x04, b"") + tlv(0x04, b"")
    return tlv(0x30, tlv(0x02, bytes([message_id])) + tlv(tag, body))


def ldap_entry(message_id, value):
    attribute = tlv(0x30, tlv(0x04, b"description") + tlv(0x31, tlv(0x04, value)))
    entry = tlv(0x04, b"") + tlv(0x30, attribute)
    return tlv(0x30, tlv(0x02, bytes([message_id])) + tlv(0x64, entry))


async def read_ldap_message(reader):
    """One LDAPMessage: (message id, operation tag)."""
    header = await reader.readexactly(2)
    length = header[1]
    if length & 0x80:
        length = int.from_bytes(await reader.readexactly(length & 0x7F), "big")
    content = await reader.readexactly(length)
    # content: INTEGER messageID, then the operation
    id_length = content[1]
    message_id = int.from_bytes(content[2 : 2 + id_length], "big")
    return message_id, content[2 + id_length], 2 + length


async def serve_ldap(reader, writer, counts):
    while True:
        message_id, operation, size = await read_ldap_message(reader)
        counts["received"] += size
        if operation == 0x42:  # unbind
            return
        if MODE == "ldap-silent":
            continue
        if operation == 0x60:  # bind
            if MODE == "ldap-malformed":
                # A bind response whose inner length runs past the message.
                reply = b"\x30\x07\x02\x01" + bytes([message_id]) + b"\x61\x7f\x0a\x01"
            else:
                reply = ldap_result(0x61, message_id)
        elif operation == 0x63 and MODE == "ldap-slow":  # search, paged as slowly as a server can
            while True:
                reply = ldap_entry(message_id, b"slow")
                writer.write(reply)
                counts["sent"] += len(reply)
                await writer.drain()
                await asyncio.sleep(0.3)
        elif operation == 0x63:  # search
            reply = ldap_entry(message_id, b"x" * (10 * 1024 * 1024)) + ldap_result(0x65, message_id)
        else:
            reply = ldap_result(0x78 if operation == 0x77 else 0x65, message_id, code=53)
        writer.write(reply)
        counts["sent"] += len(reply)
        await writer.drain()


async def serve_http(reader, writer, counts):
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        counts["received"] += len(head)
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        if length:
            counts["received"] += len(await reader.readexactly(length))
        log({"event": "request", "path": path})

        async def send(data):
            writer.write(data)
            counts["sent"] += len(data)
            await writer.drain()

        if MODE == "http-ok":
            await send(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif MODE == "http-banner":
            await send(b"HTTP/1.1 500 Internal Server Error\r\nServer: acme-gw/4711\r\nContent-Length: %d\r\n\r\n%s" % (len(BANNER), BANNER))
        elif MODE == "http-redirect":
            port = writer.get_extra_info("sockname")[1]
            await send(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/followed\r\nContent-Length: 0\r\n\r\n" % port)
        else:
            await send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n")
            if MODE == "http-stall":
                await reader.read()  # until the client gives up
                return
            chunk = b"1\r\nx\r\n" if MODE == "http-trickle" else b"10000\r\n" + b"x" * 65536 + b"\r\n"
            while True:
                await send(chunk)
                if MODE == "http-trickle":
                    await asyncio.sleep(0.1)


async def handle(reader, writer):
    counts = {"received": 0, "sent": 0}
    try:
        if MODE.startswith("ldap"):
            await serve_ldap(reader, writer, counts)
        else:
            await serve_http(reader, writer, counts)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        log({"event": "closed", **counts})
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    temporary = os.path.join(DIRECTORY, "port.tmp")
    with open(temporary, "w") as file:
        file.write(str(port))
    os.rename(temporary, os.path.join(DIRECTORY, "port"))
    async with server:
        await server.serve_forever()


asyncio.run(main())
