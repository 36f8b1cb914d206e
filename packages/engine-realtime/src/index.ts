/**
 * `@vf/engine-realtime`: not implemented yet. This entry point exists so the package builds and
 * can be depended upon; its features land with their own issue (see the package README).
 * @packageDocumentation
 */
export {};
