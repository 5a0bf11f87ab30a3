import React from "react";
export function EngineSelfTest(props) { return <div id="selftest">stub</div>; }
