/**
 * An upstream address where nothing listens, so connecting is refused at once. A port freed
 * after a test bound it would do only until a test running in parallel is handed the same
 * port; port 1 (tcpmux, privileged, unused) is never bound by anything here.
 */
export const DEAD_UPSTREAM = 'http://127.0.0.1:1';
