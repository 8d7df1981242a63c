// JSON-RPC 2.0 over POST to the service (./api, i.e. /sflow-monitor/api). A view asks for
// everything it needs in one call of batch(); the calls travel as JSON-RPC batches of at most
// MAX_BATCH (the service refuses longer ones), one after another (the service runs one heavy
// call at a time: parallel parts would only hold more of its workers). Any failure — the network, an HTTP
// status, a JSON-RPC error object — becomes one RpcError naming the method and the error,
// which main.js shows in the banner.

const ENDPOINT = 'api';
const MAX_BATCH = 50;
let nextId = 1;

export class RpcError extends Error {
    constructor(method, message) {
        super(method + ': ' + message);
        this.method = method;
        this.detail = message;
    }
}

async function post(calls) {
    const body = calls.map(c => ({ jsonrpc: '2.0', method: c.method, params: c.params || {}, id: c.id }));
    let response;
    try {
        response = await fetch(ENDPOINT, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json-rpc' },
            body: JSON.stringify(body),
            cache: 'no-store',
        });
    } catch (e) {
        throw new RpcError(calls[0].method, 'the request failed (' + e.message + ')');
    }
    if (!response.ok) throw new RpcError(calls[0].method, 'HTTP ' + response.status + ' ' + response.statusText);
    let answer;
    try {
        answer = await response.json();
    } catch (e) {
        throw new RpcError(calls[0].method, 'the answer is not JSON (' + e.message + ')');
    }
    if (!Array.isArray(answer)) {  // a batch-level error (e.g. a refused batch)
        const err = answer && answer.error;
        throw new RpcError(calls[0].method, err ? describe(err) : 'unexpected answer');
    }
    return answer;
}

function describe(err) {
    let text = err.message + ' (' + err.code + ')';
    if (err.data !== undefined) text += ': ' + JSON.stringify(err.data);
    return text;
}

// calls: [{method, params}]; resolves to their results, in order.
export async function batch(calls) {
    for (const c of calls) c.id = nextId++;
    const chunks = [];
    for (let i = 0; i < calls.length; i += MAX_BATCH) chunks.push(calls.slice(i, i + MAX_BATCH));
    const answers = [];
    for (const chunk of chunks) answers.push(...await post(chunk));  // one at a time: heavy calls queue anyway
    const byId = new Map(answers.map(a => [a.id, a]));
    return calls.map(c => {
        const a = byId.get(c.id);
        if (!a) throw new RpcError(c.method, 'no answer in the batch');
        if (a.error) throw new RpcError(c.method, describe(a.error));
        return a.result;
    });
}

export async function call(method, params) {
    return (await batch([{ method, params }]))[0];
}
