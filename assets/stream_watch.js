// The page's answers always arrive, and are always shown (app.py puts this in the page's <head>, before gradio's
// own scripts).
//
// gradio 6.31's page client submits an event with a POST to /queue/join, whose answer is the event's id, and reads
// the answers of all the session's events from one stream, /queue/data, which the server ends once none of the
// session's events is left. On a busy machine (a slow browser), two races lose an answer:
//
// 1. An answer that comes on the stream before the client has read its join's answer is kept aside and played
//    later, and a roll played that way is not shown (the page keeps the song's facts and audio, and no roll).
// 2. When the page submits an event just as the server ends the stream, the client can read the join's answer
//    before the stream's end, keep believing the stream open, and open none: the answer waits on the server until
//    the page submits another event.
//
// This wraps fetch, which the client calls. (1) The stream the client reads is the server's, held back at a message
// for an event whose join the client has not read yet, until it has (at most HOLD_MS), so every message finds its
// event. (2) When an event is unanswered and no stream is open to bring its answer, it clicks the hidden
// #stream-kick button: a no-op event, whose submission makes the client open the stream, which brings every answer
// waiting on the server.
(() => {
  const JOIN = "/queue/join", STREAM = "/queue/data";
  const HOLD_MS = 5000;  // a message waits at most this long for its join (then goes, as without this watch)
  const QUIET_MS = 1000;  // no stream for this long while an answer is due: the client will not open one itself
  const KICK_EVERY_MS = 3000;
  const waiting = new Set();  // ids of events whose join the client has read and whose answer is not complete
  const early = new Set();  // ids completed before their join was read (a message held past HOLD_MS)
  const wakers = new Set();  // each open stream's flush: run when the client has read a join
  let streams = 0, quietSince = performance.now(), lastKick = 0;
  const realFetch = window.fetch.bind(window);
  const urlOf = (input) => (typeof input === "string" ? input : input instanceof Request ? input.url : String(input));

  function joined(response) {  // the client reads the event's id with response.json()
    const read = response.json.bind(response);
    response.json = async () => {
      const answer = await read();
      const id = answer && answer.event_id;
      if (id && !early.delete(id)) {
        // The client registers the event in the promise reactions that follow this read, before any timer runs.
        setTimeout(() => {
          waiting.add(id);
          wakers.forEach((wake) => wake());
        }, 0);
      }
      return answer;
    };
    return response;
  }

  function messageOf(block) {  // an SSE block "data: {json}": its event id and kind
    for (const line of block.split("\n")) {
      if (!line.startsWith("data:")) continue;
      try {
        const message = JSON.parse(line.slice(5));
        return {id: message.event_id || null, kind: message.msg};
      } catch (err) {
        return {id: null, kind: null};
      }
    }
    return {id: null, kind: null};
  }

  function watched(response) {  // the server's stream, each message passed on once its event is known
    const reader = response.body.getReader(), decoder = new TextDecoder(), encoder = new TextEncoder();
    const held = [];  // [block, id, kind, since], in the server's order
    let text = "", out = null, over = false;
    const finish = () => {
      if (over) return;
      over = true;
      wakers.delete(flush);
      clearInterval(timer);
      streams -= 1;
      quietSince = performance.now();
    };
    const flush = () => {
      while (held.length && out) {
        const [block, id, kind, since] = held[0];
        if (id && !waiting.has(id) && performance.now() - since < HOLD_MS) return;
        held.shift();
        if (kind === "process_completed" && id && !waiting.delete(id)) early.add(id);
        out.enqueue(encoder.encode(`${block}\n\n`));
      }
    };
    const timer = setInterval(flush, 200);
    wakers.add(flush);
    const pump = async () => {
      try {
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          text += decoder.decode(value, {stream: true});
          const blocks = text.split("\n\n");
          text = blocks.pop();
          for (const block of blocks) {
            const {id, kind} = messageOf(block);
            held.push([block, id, kind, performance.now()]);
          }
          flush();
        }
        while (held.length) {  // the server ended the stream: what is held still goes first
          await new Promise((resolve) => setTimeout(resolve, 100));
          flush();
        }
        out.close();
      } catch (err) {
        try { out.error(err); } catch (e) { /* the client has let it go */ }
      } finally {
        finish();
      }
    };
    const body = new ReadableStream({
      start(controller) { out = controller; pump(); },
      cancel(reason) { finish(); return reader.cancel(reason); },
    });
    return new Response(body, {status: response.status, statusText: response.statusText, headers: response.headers});
  }

  window.fetch = async (input, init) => {
    const url = urlOf(input), isStream = url.includes(STREAM), isJoin = url.includes(JOIN);
    if (isStream) streams += 1;
    let response;
    try {
      response = await realFetch(input, init);
    } catch (err) {
      if (isStream) { streams -= 1; quietSince = performance.now(); }
      throw err;
    }
    if (isJoin && response.ok) return joined(response);
    if (isStream) {
      if (response.ok && response.body) return watched(response);
      streams -= 1;
      quietSince = performance.now();
    }
    return response;
  };

  // For the browser tests: how many times it had to send its event, and how many answers are due now.
  window.streamWatch = {kicks: 0, due: () => waiting.size};

  setInterval(() => {
    const now = performance.now();
    if (!waiting.size || streams > 0 || now - quietSince < QUIET_MS || now - lastKick < KICK_EVERY_MS) return;
    const kick = document.querySelector("#stream-kick button, button#stream-kick");
    if (!kick) return;
    lastKick = now;
    window.streamWatch.kicks += 1;
    kick.click();
  }, 250);
})();
