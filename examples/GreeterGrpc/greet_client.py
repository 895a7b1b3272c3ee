#!/usr/bin/python3
"""A real gRPC client (Debian's python3-grpcio) for the greeter: calls SayHello N times on new
channels and prints one JSON line per reply. The protobuf messages are encoded by hand, so no
generated Python code is needed: HelloRequest{name=1}, HelloReply{message=1, pid=2, slot=3}.

usage: greet_client.py HOST:PORT NAME [CALLS]
"""
import json, sys
import grpc


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_request(name):
    data = name.encode()
    return b"\x0a" + varint(len(data)) + data


def decode_reply(data):
    fields, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length, i = read_varint(data, i)
            fields[number] = data[i:i + length].decode()
            i += length
        elif wire == 0:
            value, i = read_varint(data, i)
            fields[number] = value - (1 << 64) if value >= 1 << 63 else value
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return {"message": fields.get(1, ""), "pid": fields.get(2, 0), "slot": fields.get(3, 0)}


def read_varint(data, i):
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def main():
    target, name = sys.argv[1], sys.argv[2]
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for _ in range(calls):
        # A new channel per call, so calls spread over the workers accepting on the shared socket.
        with grpc.insecure_channel(target) as channel:
            say_hello = channel.unary_unary("/greet.Greeter/SayHello",
                                            request_serializer=encode_request, response_deserializer=decode_reply)
            print(json.dumps(say_hello(name, timeout=10)), flush=True)


if __name__ == "__main__":
    main()
