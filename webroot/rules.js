// Client-side copies of the server's rules (docs/protocol.md, "Rules" and "Errors"), so the page can
// explain a problem before sending, and turn the server's error codes into readable sentences.

export const ROOM_RULE = 'Room names are 1 to 64 characters: letters A–Z, digits, "_", "." or "-".';
export const NAME_RULE = 'Names are 1 to 32 visible characters, without control, invisible or text-direction characters.';

const ROOM_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
// C0, DEL and C1 controls, line and paragraph separators, format characters (zero-width, bidirectional
// marks, overrides and isolates), private use, and blank fillers: the server refuses them too.
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\p{Cf}\p{Co}\p{Cn}\u115f\u1160\u3164\uffa0\u2800\u180e\u034f]/u;

/** '' when the room name is acceptable, else the rule it breaks. */
export function roomProblem(room) {
  return ROOM_PATTERN.test(room) ? '' : ROOM_RULE;
}

/** '' when the name is acceptable, else the rule it breaks. */
export function nameProblem(name) {
  const normalized = name.normalize('NFC');
  const codePoints = [...normalized].length;
  // a zero-width joiner between two emoji is part of the emoji (👩‍💻)
  const checked = normalized.replace(/(?<=\p{So})\u200d(?=\p{So})/gu, '');
  if (codePoints < 1 || codePoints > 32 || normalized.trim() === '' || NAME_FORBIDDEN.test(checked)) return NAME_RULE;
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
    case 'access_denied':
      return 'Not allowed: this room\'s rules do not let you do that. Some rooms are only for signed-in users.';
    case 'unauthorized':
      return `Sign-in failed: ${error.message || 'the token was refused'}`;
    case 'too_many_connections':
      return 'Too many connections for this user: close another tab and try again.';
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
