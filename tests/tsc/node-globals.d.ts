// The few Node globals the TypeScript example uses (the repo has no @types/node dev dependency).
declare const process: {
  env: Record<string, string | undefined>;
  exitCode: number | undefined;
};
