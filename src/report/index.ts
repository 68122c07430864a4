/**
 * Reports: report.json types, SVG plots and the self-contained HTML page. Everything exported here
 * runs in Node and in a browser; the file writer (./write.js) is Node-only and imported separately.
 */
export * from "./types.js";
export * from "./plots.js";
export * from "./html.js";
export * from "./headline.js";
export * from "./summary-html.js";
export * from "./comparison.js";
export * from "./standard.js";
export * from "./molecules-html.js";
