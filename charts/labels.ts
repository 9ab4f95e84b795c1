/** The label and annotation keys live in model/labels.ts, below everything that reads them. */
export * from "../model/labels.ts";
