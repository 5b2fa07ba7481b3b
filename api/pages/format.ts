/** "2025-03-01 14:05 UTC": one unambiguous form, whatever the server's or browser's zone. */
export function formatTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
