"""JSON-RPC 2.0 envelope and HTTP error paths, through nginx and straight to the responder."""

import json

from harness import Suite, fcgi_request

suite = Suite()
stack = suite.stack()

PATHS = ("/sflow-monitor/api", "/api")


def post(body, path="/sflow-monitor/api"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return stack.http(body, path=path)


def rpc(body, path="/sflow-monitor/api"):
    status, headers, text = post(body, path)
    assert status == 200, "HTTP %d: %r" % (status, text[:200])
    assert headers.get("content-type") == "application/json-rpc", headers
    return json.loads(text)


def error_code(resp):
    assert "error" in resp and "result" not in resp, resp
    return resp["error"]["code"]


@suite.test
def the_specs_error_examples_get_exactly_the_documented_responses():
    for path in PATHS:
        assert rpc('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}', path) == \
            {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}
        assert rpc('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]', path) == \
            {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
        assert rpc('{"jsonrpc": "2.0", "method": "foobar", "params": "bar"}', path) == \
            {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": None}


@suite.test
def ids_are_echoed_with_their_json_type():
    for id in ("abc", "1", 7, 0, -3, 12345678901234, None):
        resp = rpc({"jsonrpc": "2.0", "method": "host.description", "id": id})
        assert resp["id"] == id and type(resp["id"]) == type(id), (id, resp)
        assert resp["result"] == []


@suite.test
def a_request_that_is_not_a_request_object_is_invalid():
    for body in ([1], "3", '"x"', '{"method": "host.description", "id": 1}',
                 '{"jsonrpc": "1.0", "method": "host.description", "id": 1}',
                 '{"jsonrpc": "2.0", "method": 5, "id": 1}',
                 '{"jsonrpc": "2.0", "method": "host.description", "id": {"a": 1}}',
                 '{"jsonrpc": "2.0", "method": "host.description", "params": 3, "id": 1}'):
        resp = rpc(body)
        if isinstance(resp, list):
            assert len(resp) == 1, resp
            resp = resp[0]
        assert error_code(resp) == -32600, (body, resp)


@suite.test
def a_notification_gets_http_204_with_an_empty_body():
    for path in PATHS:
        status, headers, body = post({"jsonrpc": "2.0", "method": "host.description"}, path)
        assert status == 204 and body == b"", (status, body)
        status, _, body = post({"jsonrpc": "2.0", "method": "no.such.method"}, path)
        assert status == 204 and body == b"", (status, body)


@suite.test
def a_batch_of_notifications_gets_http_204_with_an_empty_body():
    status, _, body = post([{"jsonrpc": "2.0", "method": "host.description"},
                            {"jsonrpc": "2.0", "method": "virt.description", "params": []}])
    assert status == 204 and body == b"", (status, body)


@suite.test
def an_empty_batch_is_one_invalid_request_error():
    resp = rpc("[]")
    assert isinstance(resp, dict) and error_code(resp) == -32600 and resp["id"] is None, resp


@suite.test
def a_batch_answers_each_request_that_has_an_id():
    resp = rpc([
        {"jsonrpc": "2.0", "method": "host.description", "id": "a"},
        {"jsonrpc": "2.0", "method": "virt.description"},  # notification: no answer
        {"jsonrpc": "2.0", "method": "foobar", "id": 2},
        {"jsonrpc": "2.0", "method": "host.cpu", "params": {"ip": "192.0.2.1"}, "id": None},
        5,
    ])
    assert isinstance(resp, list) and len(resp) == 4, resp
    by_id = {json.dumps(r.get("id")): r for r in resp}
    assert by_id['"a"']["result"] == []
    assert error_code(by_id["2"]) == -32601
    assert [r for r in resp if r["id"] is None and "result" in r][0]["result"] == []
    assert [r for r in resp if r["id"] is None and "error" in r][0]["error"]["code"] == -32600


@suite.test
def named_and_positional_parameters_are_both_accepted():
    for params in ({"ip": "192.0.2.1"}, ["192.0.2.1"], ["192.0.2.1", 1494494478860],
                   {"ip": "192.0.2.1", "timestamp": "1494494478860"}):
        resp = rpc({"jsonrpc": "2.0", "method": "host.cpu", "params": params, "id": 1})
        assert resp.get("result") == [], (params, resp)
    for params in (None, {}, []):
        req = {"jsonrpc": "2.0", "method": "host.description", "id": 1}
        if params is not None:
            req["params"] = params
        assert rpc(req)["result"] == []


@suite.test
def a_missing_ip_is_invalid_params_naming_the_parameter():
    for params in ({}, [], {"timestamp": 1}):
        resp = rpc({"jsonrpc": "2.0", "method": "host.cpu", "params": params, "id": 1})
        assert error_code(resp) == -32602, resp
        assert resp["error"]["data"] == {"param": "ip", "reason": "missing"}, resp
    resp = rpc({"jsonrpc": "2.0", "method": "virt.cpu", "id": 1})
    assert error_code(resp) == -32602 and resp["error"]["data"]["param"] == "hostname", resp


@suite.test
def parameters_of_the_wrong_type_are_invalid_params():
    for params in ({"ip": 5}, {"ip": None}, {"ip": ["192.0.2.1"]},
                   {"ip": "192.0.2.1", "timestamp": "12a"},
                   {"ip": "192.0.2.1", "timestamp": 1.5},
                   {"ip": "192.0.2.1", "timestamp": True},
                   {"ip": "192.0.2.1", "timestamp": {}},
                   [5], ["192.0.2.1", "soon"]):
        resp = rpc({"jsonrpc": "2.0", "method": "host.memory", "params": params, "id": 9})
        assert error_code(resp) == -32602 and resp["id"] == 9, (params, resp)


@suite.test
def cluster_status_filters_of_the_wrong_type_or_value_are_invalid_params_naming_them():
    cases = [({"hosts": 5}, "hosts", "must be a string or an array of strings"),
             ({"hosts": [1]}, "hosts", "must be a string or an array of strings"),
             ({"hosts": {"ip": "192.0.2.1"}}, "hosts", "must be a string or an array of strings"),
             ({"hosts": ["192.0.2.1", "web01"]}, "hosts", 'not an IP address: "web01"'),
             ({"state": True}, "state", "must be a string or an array of strings"),
             ({"state": ["up", "sleepy"]}, "state", 'unknown state "sleepy"'),
             ({"include_vms": "no"}, "include_vms", "must be true or false"),
             ({"include_vms": 0}, "include_vms", "must be true or false"),
             (["web01"], "hosts", "not an IP address"),  # positional: hosts, state, include_vms
             ([None, None, None, 1], "include_vms", "too many positional parameters")]
    for params, param, reason in cases:
        resp = rpc({"jsonrpc": "2.0", "method": "cluster.status", "params": params, "id": 4})
        assert error_code(resp) == -32602 and resp["id"] == 4, (params, resp)
        assert resp["error"]["data"]["param"] == param, (params, resp)
        assert resp["error"]["data"]["reason"].startswith(reason), (params, resp)
    # the same values, well typed, are answered
    for params in ({"hosts": "192.0.2.1"}, {"hosts": []}, {"state": "down"}, {"include_vms": False},
                   [["192.0.2.1"], ["up", "running"], True]):
        resp = rpc({"jsonrpc": "2.0", "method": "cluster.status", "params": params, "id": 5})
        assert "result" in resp and resp["result"]["hosts"] == [], (params, resp)


@suite.test
def methods_other_than_post_get_405_with_allow_post():
    for path in PATHS:
        for method in ("GET", "PUT", "DELETE", "HEAD"):
            status, headers, _ = stack.http(method=method, path=path)
            assert status == 405, (path, method, status)
            assert headers.get("allow") == "POST", (path, method, headers)


@suite.test
def a_body_over_64_kib_gets_413_from_nginx():
    big = json.dumps({"jsonrpc": "2.0", "method": "host.description", "id": 1,
                      "pad": "x" * (64 * 1024)})
    for path in PATHS:
        status, _, _ = post(big, path)
        assert status == 413, status
    # just under the limit is fine
    ok = json.dumps({"jsonrpc": "2.0", "method": "host.description", "id": 1,
                     "pad": "x" * (60 * 1024)})
    assert rpc(ok)["result"] == []


@suite.test
def deeply_nested_json_is_an_error_not_a_crash():
    for body in ("[" * 60000, "[" * 30000 + "]" * 30000, '{"a":' * 10000 + "1" + "}" * 10000,
                 '{"jsonrpc": "2.0", "method": "host.cpu", "params": ' + "[" * 30000 + "]" * 30000
                 + ', "id": 1}'):
        resp = rpc(body)
        if isinstance(resp, list):
            resp = resp[0]
        assert error_code(resp) in (-32700, -32600, -32602), resp
    assert rpc({"jsonrpc": "2.0", "method": "host.description", "id": 1})["result"] == []


# The responder's own limit (body-limit, default 64 KiB), reached straight over FastCGI: the
# refusal names it, and comes before the body is sent when the length says it is too large.
LIMIT = 64 * 1024
FCGI_POST = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "REQUEST_URI": "/api"}
DESCRIBE = b'{"jsonrpc":"2.0","method":"host.description","id":3}'


def padded(n):
    """A valid request of exactly n bytes (trailing whitespace)."""
    return DESCRIBE + b" " * (n - len(DESCRIBE))


def assert_too_large(body):
    resp = json.loads(body)
    assert error_code(resp) == -32600 and resp["id"] is None, resp
    assert resp["error"]["data"]["reason"] == "request body over the limit of %d bytes" % LIMIT, resp


@suite.test
def the_responder_refuses_a_content_length_over_its_limit_before_the_body_is_sent():
    # the body stream is left open: an answer means the responder did not wait to read it
    for claimed in (10 * 1024 * 1024, LIMIT + 1):
        params = dict(FCGI_POST, CONTENT_LENGTH=str(claimed))
        headers, body = fcgi_request(stack.socket, params, padded(4096), end_stdin=False)
        assert headers.get("status", "").startswith("200"), headers
        assert_too_large(body)
    # exactly the limit is read and answered
    headers, body = fcgi_request(stack.socket, dict(FCGI_POST, CONTENT_LENGTH=str(LIMIT)), padded(LIMIT))
    assert json.loads(body) == {"jsonrpc": "2.0", "result": [], "id": 3}, body


@suite.test
def the_responder_reads_no_more_than_one_byte_past_its_limit_without_a_content_length():
    # more than the limit, the stream left open: refused after limit + 1 bytes
    headers, body = fcgi_request(stack.socket, FCGI_POST, padded(LIMIT + 4096), end_stdin=False)
    assert_too_large(body)
    headers, body = fcgi_request(stack.socket, FCGI_POST, padded(LIMIT + 1))
    assert_too_large(body)
    headers, body = fcgi_request(stack.socket, FCGI_POST, padded(LIMIT))
    assert json.loads(body) == {"jsonrpc": "2.0", "result": [], "id": 3}, body


@suite.test
def the_responder_reads_only_content_length_bytes_of_a_longer_body():
    params = dict(FCGI_POST, CONTENT_LENGTH=str(len(DESCRIBE)))
    headers, body = fcgi_request(stack.socket, params, DESCRIBE + b"garbage" * 20000)
    assert json.loads(body) == {"jsonrpc": "2.0", "result": [], "id": 3}, body


@suite.test
def the_responder_itself_answers_non_post_with_405():
    headers, body = fcgi_request(stack.socket, {"REQUEST_METHOD": "GET", "REQUEST_URI": "/api"})
    assert headers.get("status", "").startswith("405") and headers.get("allow") == "POST", headers


@suite.test
def the_service_still_answers_after_all_of_this():
    assert stack.proxy("/api").host.description() == []
    assert stack.proxy("/sflow-monitor/api").virt.description() == []


if __name__ == "__main__":
    suite.run()
