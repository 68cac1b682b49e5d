// The flash-and-beep test pattern FACS measures audio-to-video sync on (docs/contract.md §10), as ffmpeg lavfi
// sources, so that a venue encoder, the lab's senders and the tests make exactly the same thing:
//   - every second, on the second (t = 0, 1, 2 ... of the pattern), ONE all-white video frame (the flash);
//   - a 1 kHz sine at -6 dBFS for 100 ms, starting with the flash (the beep); silence between beeps;
//   - between flashes, a moving picture (ffmpeg's testsrc2), never black and never still.
// A receiver sees the flash as the frame whose negative is black (blackframe) and the beep as the first 5 ms block
// above -40 dBFS; the offset is beep minus flash, in ms: positive when the sound arrives after the picture (audio
// late, "lip after the picture"), negative when it leads. The pattern's sound and picture stay apart from silence
// and black detection: a beep each second never lets silence stand 2 s, and the picture moves.

export interface PatternOptions {
	/** picture size, e.g. 720x576 (SD) or 1920x1080 (HD) */
	size?: string
	rate?: number
	/** the sound placed this many ms after the picture (a known offset, for tests and rehearsals) */
	audioOffsetMs?: number
}

/** ffmpeg input arguments (two lavfi inputs: picture, sound) of the pattern. */
export function flashBeepInputs(o: PatternOptions = {}): string[] {
	const rate = o.rate ?? 25
	const offset = (o.audioOffsetMs ?? 0) / 1000
	const video = `testsrc2=size=${o.size ?? '720x576'}:rate=${rate},drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,1)\\,${(1 / rate).toFixed(6)})'`
	// t + 1000 keeps mod's argument positive before the first beep of a late sound
	const audio = `aevalsrc='if(lt(mod(t+1000-${offset.toFixed(4)}\\,1)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000`
	return ['-f', 'lavfi', '-i', video, '-f', 'lavfi', '-i', audio]
}
