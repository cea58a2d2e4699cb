// What the page's modules share: the kinds' colours and line patterns, and UTC time formatting.

export const DASH = { flight: null, activity: "12 6", hazard: "5 4", protected: "2 5", restriction: "10 4 2 4" };
export const COLOUR = { flight: "#1f5fbf", activity: "#c25e00", hazard: "#c0161f", protected: "#1b7a36",
  restriction: "#6b3fa0" };
export const CONFLICT = "#d1007a";

export const pad = (n) => String(n).padStart(2, "0");

/** A `datetime-local` field's value for `ms`, read as UTC (with seconds when asked). */
export function utcInput(ms, seconds = false) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:`
    + `${pad(d.getUTCMinutes())}${seconds ? `:${pad(d.getUTCSeconds())}` : ""}`;
}
