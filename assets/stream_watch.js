// The page's answers always arrive (app.py puts this in the page's <head>, before gradio's own scripts).
//
// gradio 6.31's page client reads every answer of a session from one event stream (/queue/data), which the server
// ends once no event of the session is left. When the page submits an event (/queue/join) just as the server ends
// the stream, the client can take the join's answer before it reads the end, keep believing the stream open, and
// open none: the event's answer then waits on the server until the page submits another event. Seen on a busy
// machine as a first roll that never came although the server had sent it.
//
// This watches the page's requests (it wraps fetch, which the client calls) and notes every event submitted and every
// event answered. When an event is unanswered and no stream is open to bring its answer, it clicks the hidden
// #stream-kick button: a no-op event, whose submission makes the client open the stream, which brings every answer
// waiting on the server.
(() => {
  const JOIN = "/queue/join", STREAM = "/queue/data";
  const QUIET_MS = 1000;  // no stream for this long while an answer is due: the client will not open one itself
  const KICK_EVERY_MS = 3000;
  const waiting = new Map();  // event id -> when it was submitted
  const early = new Set();  // ids answered before the join's own answer was read (the stream can be the faster)
  let streams = 0, quietSince = performance.now(), lastKick = 0;
  const realFetch = window.fetch.bind(window);

  const urlOf = (input) => (typeof input === "string" ? input : input instanceof Request ? input.url : String(input));

  async function readStream(body) {  // the stream's messages: "data: {json}" lines
    const reader = body.getReader(), decoder = new TextDecoder();
    let text = "";
    try {
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        text += decoder.decode(value, {stream: true});
        const lines = text.split("\n");
        text = lines.pop();
        for (const line of lines) {
          if (!line.startsWith("data:")) continue;
          try {
            const message = JSON.parse(line.slice(5));
            if (message.msg === "process_completed" && message.event_id && !waiting.delete(message.event_id)) {
              early.add(message.event_id);
            }
          } catch (err) { /* not JSON: not a message of ours to read */ }
        }
      }
    } catch (err) { /* aborted by the client: the stream is over */ }
  }

  window.fetch = async (input, init) => {
    const url = urlOf(input), isStream = url.includes(STREAM), isJoin = url.includes(JOIN);
    if (isStream) streams += 1;
    const ended = () => { streams -= 1; quietSince = performance.now(); };
    let response;
    try {
      response = await realFetch(input, init);
    } catch (err) {
      if (isStream) ended();
      throw err;
    }
    if (isJoin && response.ok) {
      response.clone().json().then((json) => {
        if (json && json.event_id && !early.delete(json.event_id)) waiting.set(json.event_id, performance.now());
      }).catch(() => {});
    }
    if (isStream) {
      if (response.ok && response.body) readStream(response.clone().body).finally(ended);
      else ended();
    }
    return response;
  };

  // For the browser tests: how many times it had to act, and how many answers are due now.
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
