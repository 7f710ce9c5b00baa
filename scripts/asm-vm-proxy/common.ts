// Values the asm-vm-proxy steps share: the proxy's env file, its keys, and the image.
export const ENV_FILE = '/opt/asm_vm_proxy/asm_vm_proxy.env';
export const ENV_KEYS = ['ACCESS_KEY_ID', 'ACCESS_KEY_SECRET', 'REGION', 'MESH_ID', 'NS', 'SA', 'POD_NAME'] as const;
/** The proxy image: the article's regional, versioned path, or ASM_VM_PROXY_IMAGE (a mirror's
 *  copy; the lab's stand-in image) */
export const image = (env: Record<string, string>) =>
  env.ASM_VM_PROXY_IMAGE || `registry.${env.REGION}.aliyuncs.com/acs/asm-vm-proxy:${env.ASM_VERSION}-aliyun`;
