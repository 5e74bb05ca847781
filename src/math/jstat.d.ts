// jstat ships no type declarations; graft reads one function of it.
declare module 'jstat' {
  const jstat: { jStat: { studentt: { inv(p: number, degreesOfFreedom: number): number } } };
  export default jstat;
}
