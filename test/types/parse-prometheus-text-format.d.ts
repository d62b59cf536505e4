declare module 'parse-prometheus-text-format' {
  // Families as prom2json prints them; values stay strings.
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
