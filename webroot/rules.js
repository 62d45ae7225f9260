// Client-side copies of the server's rules (docs/protocol.md, "Rules" and "Errors"), so the page can
// explain a problem before sending, and turn the server's error codes into readable sentences.

export const ROOM_RULE = 'Room names are 1 to 64 characters: letters A–Z, digits, "_", "." or "-".';
export const NAME_RULE = 'Names are 1 to 32 characters, without control characters or line breaks.';

const ROOM_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
// C0, DEL and C1 controls, line and paragraph separators.
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

/** '' when the room name is acceptable, else the rule it breaks. */
export function roomProblem(room) {
  return ROOM_PATTERN.test(room) ? '' : ROOM_RULE;
}

/** '' when the name is acceptable, else the rule it breaks. */
export function nameProblem(name) {
  const codePoints = [...name].length;
  if (codePoints < 1 || codePoints > 32 || NAME_FORBIDDEN.test(name)) return NAME_RULE;
  return '';
}

/**
 * A readable sentence for a server error.
 * @param {{code: string, message?: string}} error the `error` frame
 * @param {{maxTextLength?: number, maxRoomsPerConnection?: number}} limits from `welcome`
 */
export function describeError(error, limits = {}) {
  switch (error.code) {
    case 'not_joined':
      return 'You are not in this room. Join it again to send messages.';
    case 'too_large':
      return `Message too long: the limit is ${limits.maxTextLength ?? 4000} characters.`;
    case 'rate_limited':
      return 'Slow down: you are sending faster than the server allows. Try again in a moment.';
    case 'invalid_room':
      return ROOM_RULE;
    case 'invalid_name':
      return NAME_RULE;
    case 'too_many_rooms':
      return `You can be in at most ${limits.maxRoomsPerConnection ?? 32} rooms at once. Leave one first.`;
    case 'unavailable':
      return 'The server could not do that right now. Please try again.';
    case 'bad_request':
      return 'The server did not understand that request.';
    case 'internal':
      return 'Something went wrong on the server.';
    default:
      return error.message ? `Error: ${error.message}` : `Error: ${error.code}`;
  }
}
