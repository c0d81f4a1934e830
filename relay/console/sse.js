// Server-Sent Events over fetch(): EventSource cannot send an Authorization
// header, so the tap is read as a byte stream and parsed here, following the
// HTML standard's event-stream rules (fields `event`, `data`, `id`; lines
// starting with ':' are comments; a blank line ends a message).

// Reads `response.body` until it ends or `signal` aborts. Calls
// onMessage({event, data, id}) per message and onComment(text) per comment.
// Resolves when the stream ends; rejects on a network error (or abort).
export async function readEventStream(response, {onMessage, onComment, signal}) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let message = {event: '', data: [], id: ''};
  const abort = () => reader.cancel().catch(() => {});
  if (signal) signal.addEventListener('abort', abort, {once: true});
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let nl;
      while ((nl = buffer.search(/\r\n|\n|\r/)) >= 0) {
        const skip = buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1;
        // A lone '\r' at the very end may be half of '\r\n': wait for more.
        if (buffer[nl] === '\r' && nl + 1 === buffer.length) break;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + skip);
        if (line === '') {
          if (message.data.length > 0 || message.event) {
            onMessage({event: message.event || 'message', data: message.data.join('\n'), id: message.id});
          }
          message = {event: '', data: [], id: ''};
        } else if (line.startsWith(':')) {
          if (onComment) onComment(line.slice(1).trim());
        } else {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') message.data.push(value);
          else if (field === 'event') message.event = value;
          else if (field === 'id') message.id = value;
        }
      }
    }
  } finally {
    if (signal) signal.removeEventListener('abort', abort);
  }
}
