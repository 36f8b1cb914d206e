// pnpm hooks for this workspace.
module.exports = {
  hooks: {
    /**
     * What `pnpm pack` / `pnpm publish` write as a package's manifest. A consumer never installs
     * devDependencies, and ours name private workspace tooling (`@vf/tsconfig@0.0.0`, ...) that is
     * not on the registry: they stay out of published manifests. `workspace:` ranges are already
     * replaced by real versions when this runs.
     */
    beforePacking(manifest) {
      const { devDependencies: _unused, ...published } = manifest;
      return published;
    },
  },
};
