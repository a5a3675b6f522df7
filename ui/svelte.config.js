// Svelte 5 reads TypeScript in components itself; nothing to configure beyond the defaults.
export default {};
