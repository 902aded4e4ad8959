// The "paid" chime: two rising tones, synthesised so no audio file or network is needed.

let ctx = null;

export function chime() {
  try {
    ctx = ctx ?? new AudioContext();
    const now = ctx.currentTime;
    [[880, 0], [1320, 0.16]].forEach(([freq, at]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(0.3, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.35);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.4);
    });
  } catch (_) {
    // No audio device (a headless till): the screen still says Paid.
  }
}
